"""The operation table: every activation and every loss is one record holding all its facts side by side.

Modelled on PyTorch's OpInfo (one record per operator: its reference implementation, its domain, what its
tests need) and JAX's tests/lax_autodiff_test.py (a table of ops with their domains and tolerances, one
parametrized test over it). A record holds

- its name, and where it may sit (an activation: hidden and/or output layer; a loss: the output
  activation it needs, the target kinds it makes sense for, whether it is a batch mean);
- its NumPy forms: the textbook arithmetic the manual side computes (manual/forward.py reads them);
- its torch form, written in torch, and its jax form, written in jax: each receives its framework's
  module as an argument, so importing this table imports neither (the report writer and the engine run
  without them), and each oracle stays independent of the NumPy forms and of the other;
- what the tolerance model needs (judging/tolerance.py): how a[l] passes on the error of z[l]'s sum
  (the slope), the magnitude |g'| its rounding error lives on, a loss's output scales;
- its kink, if its derivative jumps (ReLU at 0), and the subgradient the NumPy derivative takes there.

The order of the rows is the order of the integer codes a padded stack carries (batching/padded.py)
and the compiled jax oracle selects by: codes are positions in ACTIVATIONS and LOSSES, nowhere else.
tests/test_operations.py walks every row: a missing form fails naming the row and the form, and the
torch and jax forms must agree with the NumPy forms (values and autodiff derivatives).

Adding an activation or a loss is one row here plus its test. What is drawn by default (formula.Setting)
is listed there explicitly, so a new row changes no drawn network until a setting asks for it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np


# ---- NumPy forms: the textbook arithmetic (1 / (1 + e^-z), not a library call), as a reader of the
# documents would compute it. Overflow of e^-z for very negative z gives 1/inf = 0, the right limit.

def sigmoid(z):
    with np.errstate(over="ignore"):  # e^-z = inf for z < -709 (float64): 1/inf = 0 is the intended value
        return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """σ'(z) = σ(z)(1 - σ(z)), as documents 002 and 003 write it."""
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z):
    return np.tanh(z)


def tanh_prime(z):
    return 1 - np.tanh(z) ** 2


def relu(z):
    return np.maximum(z, 0)


def relu_prime(z):
    return (z > 0).astype(z.dtype)  # the subgradient 0 at z = 0 (torch's; jax_grad.py's jnp.maximum takes 1/2)


def identity(z):
    return z


def identity_prime(z):
    return np.ones_like(z)


def softplus(z):
    """log(1 + e^z), computed as logaddexp(0, z): no overflow of e^z for large z, no loss for small."""
    return np.logaddexp(0, z)


def softplus_prime(z):
    """softplus'(z) = σ(z), the logistic sigmoid."""
    return sigmoid(z)


def softmax(z, axis=-1):
    """Softmax along `axis` (the units: the last axis in the canonical layout, 0 for column vectors),
    shifted for stability."""
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(s, g, axis=-1):
    """g through softmax's Jacobian: s ⊙ (g - Σ_k g_k s_k), s = softmax(z)."""
    return s * (g - np.sum(g * s, axis=axis, keepdims=True))


def log_softmax(z, axis=-1):
    """log softmax(z) = z - log Σ e^z, computed without forming softmax(z) (which underflows to 0)."""
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def log_sigmoid(z):
    """log σ(z) = -log(1 + e^-z), without forming σ(z) (which underflows to 0)."""
    return -np.logaddexp(0, -z)


# ---- activations -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Activation:
    """One activation g and all its facts (see the module docstring).

    Tolerance facts, float64 arrays in and out (judging/tolerance.py):
    - slope(z, a): g'(z) as the absolute-value forward pass uses it, A = |a| + slope·M (elementwise rows);
    - magnitude(z, a): |g'| with its subtraction turned into an addition, the scale g'(z)'s rounding error
      lives on (elementwise rows);
    - curvature(z, a): |g''(z)|, how an absolute error in z moves g'(z) (None: g'' = 0 off the kink);
    - a row whose outputs are coupled (softmax: each depends on every unit) has no elementwise derivative
      and gives instead coupled_carried(z, a, M) for A and coupled_magnitude(s, B_a) for B of dC/dz.
    """

    name: str
    sits: tuple  # "hidden" and/or "output": the layers it may be the activation of
    numpy: Callable  # g(z) in NumPy; a coupled row takes the units' axis: g(z, axis)
    numpy_prime: Callable | None  # g'(z) in NumPy, elementwise; None for a coupled row (a Jacobian)
    torch_form: Callable  # (torch, z) -> g(z), in torch; the units are the last axis
    jax_form: Callable  # (jax, jnp, z) -> g(z), in jax; the units are the last axis
    slope: Callable | None
    magnitude: Callable | None
    coupled_carried: Callable | None = None
    coupled_magnitude: Callable | None = None
    numpy_backward_coupled: Callable | None = None  # (s, g, axis) -> g through the Jacobian, NumPy
    curvature: Callable | None = None
    kink: float | None = None  # where g' jumps; the kink tests (evaluate.kinks, the strategies' nudge) assume 0
    prime_at_kink: float | None = None  # the subgradient numpy_prime takes there

    @property
    def coupled(self) -> bool:
        return self.numpy_prime is None

    def forward(self, z, axis=-1):
        """g(z) in NumPy, a coupled row along `axis`."""
        return self.numpy(z, axis) if self.coupled else self.numpy(z)

    def backward(self, z, a, g, axis=-1):
        """dC/dz from g = dC/da through this activation, in NumPy: g ⊙ g'(z), or the coupled Jacobian's."""
        return self.numpy_backward_coupled(a, g, axis) if self.coupled else g * self.numpy_prime(z)

    def carried(self, z, a, M):
        """A = |a| + |g'(z)|·M (tolerance.forward_magnitudes), or the coupled row's own form of it."""
        return self.coupled_carried(z, a, M) if self.coupled else np.abs(a) + self.slope(z, a) * M

    def output_magnitude(self, z, a, A, B_a):
        """B of dC/dz[L] from B of dC/da[L] at the output (A = A[L])."""
        return self.coupled_magnitude(A, B_a) if self.coupled else B_a * self.magnitude(z, a)


def _softmax_carried(z, a, M):
    """ds_j = s_j((1 - s_j) dz_j - Σ_{k≠j} s_k dz_k): A = s·(1 + (1 - s)·M + Σ_{k≠j} s_k M_k)."""
    others = np.sum(a * M, axis=-1, keepdims=True) - a * M
    return a * (1 + (1 - a) * M + others)


def _softmax_magnitude(s, B_a):
    return s * (B_a + np.sum(s * B_a, axis=-1, keepdims=True))


ACTIVATION_ROWS = (
    Activation("sigmoid", ("hidden", "output"), sigmoid, sigmoid_prime,
               torch_form=lambda torch, z: torch.sigmoid(z),
               jax_form=lambda jax, jnp, z: jax.nn.sigmoid(z),
               slope=lambda z, a: a * (1 - a),
               magnitude=lambda z, a: np.abs(a) * (1 + np.abs(a)),
               curvature=lambda z, a: np.abs(a * (1 - a) * (1 - 2 * a))),
    Activation("tanh", ("hidden", "output"), tanh, tanh_prime,
               torch_form=lambda torch, z: torch.tanh(z),
               jax_form=lambda jax, jnp, z: jnp.tanh(z),
               slope=lambda z, a: 1 - a**2,
               magnitude=lambda z, a: 1 + a**2,
               curvature=lambda z, a: np.abs(2 * a * (1 - a**2))),
    Activation("relu", ("hidden",), relu, relu_prime,
               torch_form=lambda torch, z: torch.relu(z),
               jax_form=lambda jax, jnp, z: jnp.maximum(z, 0),
               slope=lambda z, a: (z > 0).astype(float),
               magnitude=lambda z, a: (z > 0).astype(float),
               kink=0.0, prime_at_kink=0.0),
    Activation("identity", ("hidden", "output"), identity, identity_prime,
               torch_form=lambda torch, z: z,
               jax_form=lambda jax, jnp, z: z,
               slope=lambda z, a: np.ones_like(a),
               magnitude=lambda z, a: np.ones_like(z)),
    Activation("softmax", ("output",), softmax, None,
               torch_form=lambda torch, z: torch.softmax(z, dim=-1),
               jax_form=lambda jax, jnp, z: jax.nn.softmax(z, axis=-1),
               slope=None, magnitude=None,
               coupled_carried=_softmax_carried, coupled_magnitude=_softmax_magnitude,
               numpy_backward_coupled=softmax_backward),
    Activation("softplus", ("hidden",), softplus, softplus_prime,
               # torch's default threshold (20) returns z itself above 20, off by e^-z (1e-9 relative at 20):
               # at 40, e^-z is below float64's rounding of z, so the form is log(1 + e^z) wherever that differs
               torch_form=lambda torch, z: torch.nn.functional.softplus(z, beta=1.0, threshold=40.0),
               jax_form=lambda jax, jnp, z: jax.nn.softplus(z),
               slope=lambda z, a: sigmoid(z),
               magnitude=lambda z, a: sigmoid(z),  # 1 / (1 + e^-z): no subtraction, |g'| = g'
               curvature=lambda z, a: sigmoid(z) * sigmoid(-z)),
)


# ---- losses ------------------------------------------------------------------------------------------

class LossTerms:
    """What a loss's torch or jax form reads, in that oracle's own framework and arrays.

    z: the logits z[L]; a: the output a[L] with its a-probe already added; probe: that a-probe (the
    cross-entropies take log a[L] from the logits, so the probe enters by its exact first-order term
    probe / a); y: the targets; n: the batch size (a padded stack's true one); total(x): the sum of x
    over one network's real cells. `squares`, Σ (a - y)², is built once and shared by the squared losses
    (the compiled jax oracle traces every loss)."""

    def __init__(self, z, a, probe, y, n, total):
        self.z, self.a, self.probe, self.y, self.n, self.total = z, a, probe, y, n, total

    @functools.cached_property
    def squares(self):
        return self.total((self.a - self.y) ** 2)


@dataclass(frozen=True)
class Loss:
    """One loss C and all its facts (see the module docstring).

    NumPy forms, row layout (N, K) with the units last: numpy(z, a, y, N) is C; numpy_gradient(a, y, N)
    is dC/da[L]; numpy_logit_gradient(a, y, N, axis) is dC/dz[L] written directly, for a loss fused with
    its output activation (the cross-entropies), None otherwise (then dC/dz[L] = dC/da[L] through g).
    Tolerance facts (tolerance._output_scales): factor(N) for a squared loss, dC/da = factor·(a - y);
    cross_entropy_scales(s, A, y, N, inverse) -> (B of dC/da[L], B of dC/dz[L]) for a cross-entropy, with
    s = |a[L]|, A = A[L] and inverse(q) the scale of 1/q."""

    name: str
    written: str  # C as a formula
    output: str | None  # the output activation it needs (None: any)
    targets: tuple  # the target kinds it makes sense for (strategies draw only these)
    batch_mean: bool  # C divides by N (finite differences probe dC/dz one sample at a time: they need it)
    numpy: Callable
    numpy_gradient: Callable
    numpy_logit_gradient: Callable | None
    torch_form: Callable  # (torch, LossTerms) -> C
    jax_form: Callable  # (jax, jnp, LossTerms) -> C
    factor: Callable | None = None
    cross_entropy_scales: Callable | None = None


TARGET_KINDS = ("real", "onehot", "prob", "binary")  # how Y is drawn (strategies._target_values)
UNIT_INTERVAL_TARGETS = ("onehot", "prob", "binary")  # a cross-entropy wants y in [0, 1]


def _tiny(a):
    return np.finfo(a.dtype).tiny


def _inverse(s):
    """1/s with s floored at the dtype's tiny: the oracles' probe form, huge (not infinite) where s underflowed."""
    return 1 / np.maximum(s, _tiny(s))


def _torch_inverse(torch, s):
    """1/s held constant (no 0·inf from a saturated s leaks into dC/dz), s floored at the dtype's tiny so
    an underflowed probability gives a huge, not infinite, slope."""
    return (1 / s.clamp(min=torch.finfo(s.dtype).tiny)).detach()


def _jax_inverse(jax, jnp, s):
    """_torch_inverse, in jax."""
    return jax.lax.stop_gradient(1 / jnp.maximum(s, jnp.finfo(s.dtype).tiny))


def _torch_softmax_ce(torch, t):
    log_s = torch.log_softmax(t.z, dim=-1)
    return -t.total(t.y * (log_s + t.probe * _torch_inverse(torch, log_s.exp()))) / t.n


def _jax_softmax_ce(jax, jnp, t):
    log_s = jax.nn.log_softmax(t.z, axis=-1)
    return -t.total(t.y * (log_s + t.probe * _jax_inverse(jax, jnp, jnp.exp(log_s)))) / t.n


def _torch_sigmoid_bce(torch, t):
    p = torch.sigmoid(t.z)
    log_p = torch.nn.functional.logsigmoid(t.z) + t.probe * _torch_inverse(torch, p)
    log_1mp = torch.nn.functional.logsigmoid(-t.z) - t.probe * _torch_inverse(torch, 1 - p)
    return -t.total(t.y * log_p + (1 - t.y) * log_1mp) / t.n


def _jax_sigmoid_bce(jax, jnp, t):
    p = jax.nn.sigmoid(t.z)
    log_p = jax.nn.log_sigmoid(t.z) + t.probe * _jax_inverse(jax, jnp, p)
    log_1mp = jax.nn.log_sigmoid(-t.z) - t.probe * _jax_inverse(jax, jnp, 1 - p)
    return -t.total(t.y * log_p + (1 - t.y) * log_1mp) / t.n


def _softmax_ce_gradient(a, y, N):
    """dC/ds = -y / (N s), 0 where y = 0 (the oracles' probe form)."""
    return np.where(y == 0, 0, -y / (N * np.maximum(a, _tiny(a)))).astype(a.dtype)


def _sigmoid_bce_gradient(a, y, N):
    return (-(y * _inverse(a)) + (1 - y) * _inverse(1 - a)) / N


def _weighted(y, scale):
    """y · scale, 0 where y = 0 (a term -y/s that is absent stays absent where the scale of 1/s is infinite)."""
    return np.where(y == 0, 0.0, y * scale)


def _softmax_ce_scales(s, A, y, N, inverse):
    """B of dC/ds = -y/(N s) and of dC/dz = (s Σy - y)/N, subtractions turned into additions."""
    return _weighted(y, inverse(s)) / N, (A * np.sum(y, axis=-1, keepdims=True) + y) / N


def _sigmoid_bce_scales(s, A, y, N, inverse):
    """B of dC/dp = (-y/p + (1 - y)/(1 - p))/N and of dC/dz = (p - y)/N."""
    return (_weighted(y, inverse(s)) + _weighted(np.abs(1 - y), inverse(1 - s))) / N, (A + y) / N


LOSS_ROWS = (
    Loss("sum_sq", "C = Σ_n Σ_k (a - y)²", None, TARGET_KINDS, False,
         numpy=lambda z, a, y, N: np.sum((a - y) ** 2),
         numpy_gradient=lambda a, y, N: 2.0 * (a - y), numpy_logit_gradient=None,
         torch_form=lambda torch, t: t.squares,
         jax_form=lambda jax, jnp, t: t.squares,
         factor=lambda N: 2.0),
    Loss("half_sum_sq", "C = ½ Σ_n Σ_k (a - y)²", None, TARGET_KINDS, False,
         numpy=lambda z, a, y, N: 0.5 * np.sum((a - y) ** 2),
         numpy_gradient=lambda a, y, N: 1.0 * (a - y), numpy_logit_gradient=None,
         torch_form=lambda torch, t: 0.5 * t.squares,
         jax_form=lambda jax, jnp, t: 0.5 * t.squares,
         factor=lambda N: 1.0),
    Loss("mean_sum_sq", "C = (1/N) Σ_n Σ_k (a - y)²", None, TARGET_KINDS, True,
         numpy=lambda z, a, y, N: np.sum((a - y) ** 2) / N,
         numpy_gradient=lambda a, y, N: 2.0 / N * (a - y), numpy_logit_gradient=None,
         torch_form=lambda torch, t: t.squares / t.n,
         jax_form=lambda jax, jnp, t: t.squares / t.n,
         factor=lambda N: 2.0 / N),
    Loss("mean_half_sum_sq", "C = (1/N) Σ_n ½ Σ_k (a - y)²", None, TARGET_KINDS, True,
         numpy=lambda z, a, y, N: 0.5 * np.sum((a - y) ** 2) / N,
         numpy_gradient=lambda a, y, N: 1.0 / N * (a - y), numpy_logit_gradient=None,
         torch_form=lambda torch, t: 0.5 * t.squares / t.n,
         jax_form=lambda jax, jnp, t: 0.5 * t.squares / t.n,
         factor=lambda N: 1.0 / N),
    Loss("softmax_ce", "C = -(1/N) Σ_n Σ_k y log softmax(z[L]) ; output activation softmax", "softmax",
         UNIT_INTERVAL_TARGETS, True,
         numpy=lambda z, a, y, N: -np.sum(y * log_softmax(z)) / N,
         numpy_gradient=_softmax_ce_gradient,
         # rows of y need not sum to 1 (binary, real targets): dC/dz = (s Σ_k y_k - y) / N
         numpy_logit_gradient=lambda a, y, N, axis=-1: (a * np.sum(y, axis=axis, keepdims=True) - y) / N,
         torch_form=_torch_softmax_ce, jax_form=_jax_softmax_ce,
         cross_entropy_scales=_softmax_ce_scales),
    Loss("sigmoid_bce", "C = -(1/N) Σ_n Σ_k [y log σ(z[L]) + (1-y) log(1-σ(z[L]))] ; output sigmoid", "sigmoid",
         UNIT_INTERVAL_TARGETS, True,
         numpy=lambda z, a, y, N: -np.sum(y * log_sigmoid(z) + (1 - y) * log_sigmoid(-z)) / N,
         numpy_gradient=_sigmoid_bce_gradient,
         numpy_logit_gradient=lambda a, y, N, axis=-1: (a - y) / N,
         torch_form=_torch_sigmoid_bce, jax_form=_jax_sigmoid_bce,
         cross_entropy_scales=_sigmoid_bce_scales),
)


# ---- lookups -----------------------------------------------------------------------------------------

ACTIVATIONS = tuple(row.name for row in ACTIVATION_ROWS)  # a padded stack's activation codes index these
HIDDEN_ACTIVATIONS = tuple(row.name for row in ACTIVATION_ROWS if "hidden" in row.sits)
OUTPUT_ACTIVATIONS = tuple(row.name for row in ACTIVATION_ROWS if "output" in row.sits)
KINKED_ACTIVATIONS = tuple(row.name for row in ACTIVATION_ROWS if row.kink is not None)
LOSSES = tuple(row.name for row in LOSS_ROWS)  # and its loss codes these
_ACTIVATION = {row.name: row for row in ACTIVATION_ROWS}
_LOSS = {row.name: row for row in LOSS_ROWS}


def activation(name: str) -> Activation:
    try:
        return _ACTIVATION[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}") from None


def derivative(name: str, z):
    """g'(z) elementwise, the NumPy form; softmax has no elementwise derivative (its Jacobian couples the outputs)."""
    row = activation(name)
    if row.coupled:
        raise ValueError(f"{name} has a Jacobian, not an elementwise derivative")
    return row.numpy_prime(z)


def loss(name: str) -> Loss:
    try:
        return _LOSS[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}") from None


def fits(loss_name: str, output: str) -> bool:
    """Whether the loss can sit on this output activation (a cross-entropy only on its own)."""
    return loss(loss_name).output in (None, output)
