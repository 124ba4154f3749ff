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
import math
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


LEAKY_SLOPE = 0.01  # leaky_relu's slope below 0 (torch's and jax's default)


def leaky_relu(z):
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def leaky_relu_prime(z):
    return np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype)  # the subgradient 0.01 at z = 0 (torch's; jax's 1)


def elu(z):
    """z for z > 0, e^z - 1 below (α = 1), as expm1: e^z - 1 written out loses every digit for |z| < ε
    (the soak's tiny regime has z ~ 1e-12), which no careful reader's code does."""
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))


def elu_prime(z):
    return np.where(z > 0, 1.0, np.exp(np.minimum(z, 0))).astype(z.dtype)


_erf = np.frompyfunc(math.erf, 1, 1)  # NumPy has no erf; the C library's, entry by entry


def erf(z):
    return _erf(z).astype(np.result_type(z, np.float32))


def gaussian_cdf(z):
    """Φ(z) = (1 + erf(z/√2))/2: its 1 + erf cancels for z < 0, as torch's and jax's gelu do."""
    return 0.5 * (1 + erf(z / math.sqrt(2)))


def gaussian_pdf(z):
    return np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def gelu(z):
    """z·Φ(z), the erf form (torch's default, jax's approximate=False)."""
    return z * gaussian_cdf(z)


def gelu_prime(z):
    """gelu'(z) = Φ(z) + z·φ(z)."""
    return gaussian_cdf(z) + z * gaussian_pdf(z)


def _gelu_magnitude(z, a):
    """Φ(z) + z φ(z) with its subtractions turned into additions, (1 + |erf|)/2 + |z| φ: the scale of the
    rounding of g' and, times M, of a = z·(1 + erf)/2 (for z < 0 its 1 + erf cancels: a is known to ε·|z|)."""
    return 0.5 * (1 + np.abs(erf(z / math.sqrt(2)))) + np.abs(z) * gaussian_pdf(z)


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
    Activation("leaky_relu", ("hidden",), leaky_relu, leaky_relu_prime,
               torch_form=lambda torch, z: torch.nn.functional.leaky_relu(z, negative_slope=LEAKY_SLOPE),
               jax_form=lambda jax, jnp, z: jax.nn.leaky_relu(z, negative_slope=LEAKY_SLOPE),
               slope=lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE),
               magnitude=lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE),
               kink=0.0, prime_at_kink=LEAKY_SLOPE),
    Activation("elu", ("hidden",), elu, elu_prime,
               torch_form=lambda torch, z: torch.nn.functional.elu(z, alpha=1.0),
               jax_form=lambda jax, jnp, z: jax.nn.elu(z, alpha=1.0),
               slope=lambda z, a: elu_prime(z),
               # jax differentiates expm1 as expm1(z) + 1, which cancels for z < 0 (0 in place of e^-40): g'(z)'s
               # rounding lives on the scale 1 there, not on e^z
               magnitude=lambda z, a: np.ones_like(z),
               curvature=lambda z, a: np.where(z > 0, 0.0, elu_prime(z))),  # g' is continuous at 0 (α = 1)
    Activation("gelu", ("hidden",), gelu, gelu_prime,
               torch_form=lambda torch, z: torch.nn.functional.gelu(z, approximate="none"),
               jax_form=lambda jax, jnp, z: jax.nn.gelu(z, approximate=False),
               slope=_gelu_magnitude, magnitude=_gelu_magnitude,
               curvature=lambda z, a: gaussian_pdf(z) * np.abs(2 - z * z)),
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

    @functools.cached_property
    def cells(self):
        """N·K, the number of one network's real cells (the elementwise means divide by it), counted by
        total itself, so a padded stack's networks each get their own."""
        return self.total(self.y * 0 + 1)


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
    # an elementwise loss that is not factor·(a - y): scales(a, A, y, N, K, total) -> (B of C, B of dC/da[L]),
    # y = |Y|; B of dC/da[L] must bound |dC/da[L]| too (the absolute-value backward pass starts from it)
    scales: Callable | None = None
    # a loss whose derivative jumps (mae at a = y, the hinge at a margin of 0): kink(a, A, y, bound, floor, real) ->
    # the cells of a[L] whose dC/da[L] depends on the subgradient taken there, within rounding (bound =
    # KINK_ROUNDING·ε·K, relative to the terms; floor: the dtype's tiny, below which XLA flushes a subnormal a[L]
    # to 0; real: a padded stack's real cells, or None); the NumPy derivative takes 0 there
    kink: Callable | None = None

    @property
    def fused(self) -> bool:
        """dC/dz[L] written from the logits (the cross-entropies), not dC/da[L] through g'."""
        return self.numpy_logit_gradient is not None


# how Y is drawn (strategies._target_values); "labels": one-hot Y whose classes a formula also reads as integers,
# View.labels (N,). Setting() names its default draws (the first four) explicitly.
TARGET_KINDS = ("real", "onehot", "prob", "binary", "labels")
UNIT_INTERVAL_TARGETS = ("onehot", "prob", "binary")  # a cross-entropy wants y in [0, 1]
CLASS_TARGETS = ("onehot", "labels")  # one class per sample


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


def _torch_softmax_ce_sum(torch, t):
    log_s = torch.log_softmax(t.z, dim=-1)
    return -t.total(t.y * (log_s + t.probe * _torch_inverse(torch, log_s.exp())))


def _torch_softmax_ce(torch, t):
    return _torch_softmax_ce_sum(torch, t) / t.n


def _jax_softmax_ce_sum(jax, jnp, t):
    log_s = jax.nn.log_softmax(t.z, axis=-1)
    return -t.total(t.y * (log_s + t.probe * _jax_inverse(jax, jnp, jnp.exp(log_s))))


def _jax_softmax_ce(jax, jnp, t):
    return _jax_softmax_ce_sum(jax, jnp, t) / t.n


def _torch_sigmoid_bce_sum(torch, t):
    p = torch.sigmoid(t.z)
    log_p = torch.nn.functional.logsigmoid(t.z) + t.probe * _torch_inverse(torch, p)
    log_1mp = torch.nn.functional.logsigmoid(-t.z) - t.probe * _torch_inverse(torch, 1 - p)
    return -t.total(t.y * log_p + (1 - t.y) * log_1mp)


def _torch_sigmoid_bce(torch, t):
    return _torch_sigmoid_bce_sum(torch, t) / t.n


def _jax_sigmoid_bce_sum(jax, jnp, t):
    p = jax.nn.sigmoid(t.z)
    log_p = jax.nn.log_sigmoid(t.z) + t.probe * _jax_inverse(jax, jnp, p)
    log_1mp = jax.nn.log_sigmoid(-t.z) - t.probe * _jax_inverse(jax, jnp, 1 - p)
    return -t.total(t.y * log_p + (1 - t.y) * log_1mp)


def _jax_sigmoid_bce(jax, jnp, t):
    return _jax_sigmoid_bce_sum(jax, jnp, t) / t.n


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


# ---- the elementwise means (torch's default reduction: over all N·K cells) and the multiclass hinge ----

def _cells(a):
    """N·K of a network's output (the last two axes, in either convention and in a stack)."""
    return a.shape[-1] * a.shape[-2]


def _huber(x):
    """Huber's ρ with δ = 1: x²/2 for |x| <= 1, |x| - 1/2 beyond."""
    return np.where(np.abs(x) <= 1, 0.5 * x * x, np.abs(x) - 0.5)


def _mean_scales(factor, square):
    """(B of C, B of dC/da) of an elementwise mean: dC/da = factor·φ(a - y)/(N·K) with |φ(x)| <= |x|, and the
    terms of C on the scale (A + y)² (square) or (A + y)(A + y + 1)."""
    def scales(a, A, y, N, K, total):
        B_a = factor * (A + y) / (N * K)
        terms = (A + y) ** 2 if square else (A + y) * (A + y + 1)
        return factor * total(terms) / (N * K), B_a
    return scales


def _mae_scales(a, A, y, N, K, total):
    """dC/da = sign(a - y)/(N·K) is exact: B bounds its size; C sums |a - y| on the scale A + y."""
    return total(A + y) / (N * K), np.ones_like(a) / (N * K)


def _mae_kink(a, A, y, bound, floor, real):
    return np.abs(a - y) <= bound * (A + np.abs(y)) + floor


def _margins(a, y, axis=-1):
    """s_j - s_y + 1, the hinge's margins (y one-hot: s_y = Σ_k y_k s_k)."""
    return a - np.sum(y * a, axis=axis, keepdims=True) + 1


def _hinge(z, a, y, N):
    """C = (1/N) Σ_n Σ_{j≠y_n} max(0, s_j - s_{y_n} + 1) (row layout)."""
    return np.sum((1 - y) * np.maximum(_margins(a, y), 0)) / N


def _hinge_gradient(a, y, N):
    """dC/ds_j = 1[margin_j > 0]/N for j ≠ y, -Σ_{j≠y} 1[margin_j > 0]/N at j = y (row layout; 0 on a margin of 0)."""
    positive = (1 - y) * (_margins(a, y) > 0)
    return ((positive - y * np.sum(positive, axis=-1, keepdims=True)) / N).astype(a.dtype)


def _hinge_scales(a, A, y, N, K, total):
    """B of dC/da bounds it: 1/N off the class, (K - 1)/N at it; C's margins on the scale A_j + A_y + 1."""
    B_C = total((1 - y) * (A + np.sum(y * A, axis=-1, keepdims=True) + 1)) / N
    return B_C, ((1 - y) + y * (K - 1)) / N


def _hinge_kink(a, A, y, bound, floor, real):
    """A margin within rounding of 0 moves dC/ds_j and dC/ds_y of its sample."""
    scale = A + np.sum(y * A, axis=-1, keepdims=True) + 1
    on = (1 - y).astype(bool) & (np.abs(_margins(a, y)) <= bound * scale + floor)
    if real is not None:
        on &= real
    return on | (y.astype(bool) & on.any(axis=-1, keepdims=True))


def _torch_hinge(torch, t):
    margins = t.a - (t.y * t.a).sum(dim=-1, keepdim=True) + 1
    return t.total((1 - t.y) * torch.clamp(margins, min=0)) / t.n


def _jax_hinge(jax, jnp, t):
    margins = t.a - jnp.sum(t.y * t.a, axis=-1, keepdims=True) + 1
    return t.total((1 - t.y) * jnp.maximum(margins, 0)) / t.n


def _jax_huber(jax, jnp, t):
    x = t.a - t.y
    return t.total(jnp.where(jnp.abs(x) <= 1, 0.5 * x * x, jnp.abs(x) - 0.5)) / t.cells


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
         UNIT_INTERVAL_TARGETS + ("labels",), True,  # torch's class-index form
         numpy=lambda z, a, y, N: -np.sum(y * log_softmax(z)) / N,
         numpy_gradient=_softmax_ce_gradient,
         # rows of y need not sum to 1 (binary, real targets): dC/dz = (s Σ_k y_k - y) / N
         numpy_logit_gradient=lambda a, y, N, axis=-1: (a * np.sum(y, axis=axis, keepdims=True) - y) / N,
         torch_form=_torch_softmax_ce, jax_form=_jax_softmax_ce,
         cross_entropy_scales=_softmax_ce_scales),
    Loss("sigmoid_bce", "C = -(1/N) Σ_n Σ_k [y log σ(z[L]) + (1-y) log(1-σ(z[L]))] ; output sigmoid", "sigmoid",
         UNIT_INTERVAL_TARGETS + ("labels",), True,
         numpy=lambda z, a, y, N: -np.sum(y * log_sigmoid(z) + (1 - y) * log_sigmoid(-z)) / N,
         numpy_gradient=_sigmoid_bce_gradient,
         numpy_logit_gradient=lambda a, y, N, axis=-1: (a - y) / N,
         torch_form=_torch_sigmoid_bce, jax_form=_jax_sigmoid_bce,
         cross_entropy_scales=_sigmoid_bce_scales),
    Loss("mse", "C = (1/(N·K)) Σ_n Σ_k (a - y)²", None, TARGET_KINDS, True,
         numpy=lambda z, a, y, N: np.sum((a - y) ** 2) / _cells(a),
         numpy_gradient=lambda a, y, N: 2.0 * (a - y) / _cells(a), numpy_logit_gradient=None,
         torch_form=lambda torch, t: t.squares / t.cells,
         jax_form=lambda jax, jnp, t: t.squares / t.cells,
         scales=_mean_scales(2.0, square=True)),
    Loss("mae", "C = (1/(N·K)) Σ_n Σ_k |a - y|", None, TARGET_KINDS, True,
         numpy=lambda z, a, y, N: np.sum(np.abs(a - y)) / _cells(a),
         numpy_gradient=lambda a, y, N: (np.sign(a - y) / _cells(a)).astype(a.dtype), numpy_logit_gradient=None,
         torch_form=lambda torch, t: t.total(torch.abs(t.a - t.y)) / t.cells,
         jax_form=lambda jax, jnp, t: t.total(jnp.abs(t.a - t.y)) / t.cells,
         scales=_mae_scales, kink=_mae_kink),
    Loss("huber", "C = (1/(N·K)) Σ_n Σ_k ρ(a - y), ρ(x) = x²/2 for |x| <= 1, |x| - 1/2 beyond (δ = 1)", None,
         TARGET_KINDS, True,
         numpy=lambda z, a, y, N: np.sum(_huber(a - y)) / _cells(a),
         numpy_gradient=lambda a, y, N: np.clip(a - y, -1, 1) / _cells(a), numpy_logit_gradient=None,
         torch_form=lambda torch, t: t.total(torch.nn.functional.huber_loss(t.a, t.y, reduction="none", delta=1.0))
         / t.cells,
         jax_form=_jax_huber,
         scales=_mean_scales(1.0, square=False)),  # ρ' = clip(x, -1, 1) is continuous: no kink
    Loss("softmax_ce_sum", "C = -Σ_n Σ_k y log softmax(z[L]) ; output activation softmax", "softmax",
         UNIT_INTERVAL_TARGETS + ("labels",), False,
         numpy=lambda z, a, y, N: -np.sum(y * log_softmax(z)),
         numpy_gradient=lambda a, y, N: _softmax_ce_gradient(a, y, 1),
         numpy_logit_gradient=lambda a, y, N, axis=-1: a * np.sum(y, axis=axis, keepdims=True) - y,
         torch_form=_torch_softmax_ce_sum, jax_form=_jax_softmax_ce_sum,
         cross_entropy_scales=lambda s, A, y, N, inverse: _softmax_ce_scales(s, A, y, 1, inverse)),
    Loss("sigmoid_bce_sum", "C = -Σ_n Σ_k [y log σ(z[L]) + (1-y) log(1-σ(z[L]))] ; output sigmoid", "sigmoid",
         UNIT_INTERVAL_TARGETS + ("labels",), False,
         numpy=lambda z, a, y, N: -np.sum(y * log_sigmoid(z) + (1 - y) * log_sigmoid(-z)),
         numpy_gradient=lambda a, y, N: _sigmoid_bce_gradient(a, y, 1),
         numpy_logit_gradient=lambda a, y, N, axis=-1: a - y,
         torch_form=_torch_sigmoid_bce_sum, jax_form=_jax_sigmoid_bce_sum,
         cross_entropy_scales=lambda s, A, y, N, inverse: _sigmoid_bce_scales(s, A, y, 1, inverse)),
    Loss("multiclass_hinge", "C = (1/N) Σ_n Σ_{j≠y_n} max(0, s_j - s_{y_n} + 1), s = a[L] (CS231n's SVM)", None,
         CLASS_TARGETS, True,
         numpy=_hinge, numpy_gradient=_hinge_gradient, numpy_logit_gradient=None,
         torch_form=_torch_hinge, jax_form=_jax_hinge,
         scales=_hinge_scales, kink=_hinge_kink),
)


# ---- lookups -----------------------------------------------------------------------------------------

ACTIVATIONS = tuple(row.name for row in ACTIVATION_ROWS)  # a padded stack's activation codes index these
HIDDEN_ACTIVATIONS = tuple(row.name for row in ACTIVATION_ROWS if "hidden" in row.sits)
OUTPUT_ACTIVATIONS = tuple(row.name for row in ACTIVATION_ROWS if "output" in row.sits)
KINKED_ACTIVATIONS = tuple(row.name for row in ACTIVATION_ROWS if row.kink is not None)
LOSSES = tuple(row.name for row in LOSS_ROWS)  # and its loss codes these
KINKED_LOSSES = tuple(row.name for row in LOSS_ROWS if row.kink is not None)
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
