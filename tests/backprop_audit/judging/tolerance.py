"""Tolerances: from the dtype and the size of the sums involved, entry by entry.

A computed gradient ĝ differs from the exact g by rounding only. The classical bound for a sum of n
terms is |fl(Σ t) - Σ t| <= n·ε·Σ|t|: the error scales with the *absolute values of the terms*, not
with the result, which can be far smaller when terms cancel (a - y with a ≈ y, 1 - tanh² z near
saturation, p - y for a confident softmax). So for every quantity we run the backward pass once more
in magnitudes ("the absolute-value backward pass"): every subtraction becomes an addition, every
matrix its entrywise absolute value. That gives B, the scale the rounding error lives on, entry by
entry. The tolerance of entry i is

    tol_i = SAFETY · ε · (K_sum + K_chain) · (B_i + |g_i| · (1 + Z) + τ/ε)

- ε is the unit roundoff of the dtype the check ran in (2^-53 for float64, 2^-24 for float32);
- K_sum counts the terms of the long sums that feed the entry (the widths of the forward and backward
  sums, the batch N for W and b), K_chain its short elementwise steps (4 per layer on the way);
- both get the worst-case count, SAFETY·(K_sum + K_chain), SAFETY = 4 covering the few roundings of each
  step. A probabilistic bound for the long sums (Higham & Mary 2019, Ipsen & Zhou 2019: rounding errors
  of independent sign make a sum of n terms err by about λ·√n·ε·Σ|t|, not n·ε·Σ|t|), λ = 4 in place of
  SAFETY·K_sum, was measured (float32 oracles against float64 truth err by at most 0.44·ε·(√K_sum +
  K_chain)·(...) over the soak's regimes) and NOT put in force: over 600,084 soak checks (seeds 1-6) it
  gave one false alarm beyond the η read-back that every model has (seed 5, regime saturated, float32,
  correct-da-row dC/da[2]: torch 2427.26, jax 2423.05, manual = torch, 2.29x its tolerance). That
  disagreement is the forward error of a saturated exp carried by |g|(1 + Z), which is not a long sum of
  independent roundings: the split of the two parts must be redone before the bound can land;
- Z is the largest pre-activation magnitude Σ_k |W_jk||a_k| + |b_j| over the network: the forward pass
  computes z with an absolute error of about ε·Z, and exp (inside sigmoid, tanh, softmax) turns an
  absolute error in z into the same relative error in a and in g'(z) - e.g. a saturated sigmoid with
  z ≈ -70 has a ≈ e^-70 known only to a relative 70·ε. So |g| is scaled by (1 + Z). Where the terms of
  a later sum cancel, that relative error is on the scale of the terms: B_z carries |dC/da|·|g''(z)|·M
  (`_moved_slope`; soak evidence: float32, sigmoid output at z ≈ -14 from a sum of magnitude 45, batch
  terms of ±6.9e-7 summing to 7.6e-9 in dC/db: 1.15x the tolerance without it, regime "overflow").

Detection power: a ×(1 + ε) mistake is caught when ε > min_i tol_i/|g_i| (`detects`); at 1 or more zeros
and ×2 pass, and the check is vacuous (verdicts/vocabulary.py); trust.json `power` records it by size. With
the worst-case count a float32 check of dC/dW detects only 0.095 at [64, 512, 10]/128 and 8.0 at
[256, 4096, 10]/1024 (vacuous there), while the real error of a correct formula is 1e5-6e6 times below the
tolerance. So a network with long sums (Σ widths + N >= MEASURED_FROM = 128 terms: never one of the
catalog's small networks, never in a padded stack) gets the measured count (`measured_growth`): the count
is NOISE_MARGIN times the roundoffs that computations of the same gradient in the same dtype actually
showed on this network, at least a floor, at most the worst case. In float32 those are the float32
oracles and a correct backpropagation that sums term by term (judging/sequential.py), measured against
float64 oracles on the cast inputs, which are then also the reference the formula is compared with
(judging/reference.py); in float64 jax and the term-by-term backprop against torch, with the probabilistic bound as the floor. Measured
(trust.json `power`): float32 1.3e-4 at [64, 512, 10]/128 and 1.5e-3 at [256, 4096, 10]/1024, float64
7.6e-12 and 2.1e-10. What the oracles showed, in roundoffs of the scale S = B + |g|(1 + Z) + τ/ε, was
0.002-0.3 there; B — Σ|terms| where the batch sum cancels — is 340 to 18,000 times |g| for dW.

Wherever the backward pass uses an activation a[l] (a[L] - y, s·Σy - y, a[l-1]ᵀδ), B takes not |a[l]| but
A[l] = |a[l]| + |g'(z[l])|·M[l], M[l] = A[l-1]·|W[l]|ᵀ + |b[l]| (`forward_magnitudes`): the error a[l]
inherits from its forward sum, which is ε·K·M[l], not ε·|z[l]|, when that sum cancels.
Evidence (the soak, `backprop-audit soak`, seed 0, first 3000 checks): before A, three false alarms, all
on one float32 network (widths [7, 8, 8], identity/tanh, mean_half_sum_sq): a[2][2, 4] = tanh(z) with
z = -8.5e-5 from a sum of magnitude M = 0.51, so a carries an absolute error of about ε·K·M = 2.4e-7,
0.3% of itself; manual, torch and jax differed by 16x the old tolerance (torch and jax by 10x each
other). With A the full soak (100,005 checks) has no false alarm, worst correct ratio 0.40, while the
smallest mutant ratio at a minimal counterexample is 255 (float32; ~1e11 in float64): a margin of 636,
see reports/trust.json. SAFETY was not changed.

Two computations that are both correct differ by less than two such bounds; a wrong formula misses
by a factor, a sign or a transposition, i.e. by O(|g|), orders of magnitude above tol. Both numbers
are printed (the worst ratio error / tol of each formula) so the margin can be read off the report.

Two terms beyond the loss (each 0 for a network without them, so its tolerance is unchanged to the bit):
- the L2 term (λ/2) Σ‖W‖² (model/regularizers.py): it adds λ·W to dC/dW, a sum that rounds on the scale of
  |dC_loss/dW| + λ|W|, so B of dC/dW[l] gains λ|W[l]|; C gains the term's own terms (λ/2) Σ W² in B and
  their count in K_sum;
- the step quantities W'[l] = W - η·g, b'[l] = b - η·g (`StepScale`, `step_tolerance`): the step carries
  η times g's own tolerance (g's error scaled by η, with |g| read back from the value as |W - W'|/η), plus
  the rounding of the product η·g and of the difference, STEP_ROUNDINGS·SAFETY·ε on |W| + η|g|: W' is only
  known to ε of |W| (the scale the subtraction rounds on), however small η·g is. That term is what the
  catalog's old read-back (W - W')/η lacked: divided by η it became ε|W|/η, which no tolerance of g covered
  (a correct update failed at 1.8-2.2x with η = 1, and at 1.9e9x in the soak's huge regime).

This file is the definition, and the only one: the same functions compute it for one network, for a
stack of networks of one architecture (sweep.py: every array has a leading network axis) and for a
padded stack of different networks (padded.py, via Parameters.of_padded). What a padded stack adds is
carried by Parameters.padding and applied in three places only, each a no-op for a network alone:
- padding is made inert by masks (`_real`): z, a, A and every B are 0 outside the real units and rows
  (a padded row has z = b and a = g(b), e.g. σ(b) ≠ 0; a padded unit would have σ(0) = 1/2), so no batch
  sum (B of C, dW, db), no maximum (Z) and no softmax sees them; the softmax runs over the real units;
- the identity layers in front of a shallower network are exact (a = a @ I + 0 exactly): A passes
  through them unchanged and they count in neither Z nor K (`Parameters.in_front_at`);
- activations and losses are per-network codes: each step runs once per code present, on the networks
  that have it (`_each`); K, N and the output width are each network's true sizes.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np

from backprop_audit.model import operations
from backprop_audit.model.operations import ACTIVATIONS, LOSSES
from backprop_audit.model.quantity import NORM_KINDS, Quantity, layer_names
from backprop_audit.model.normalization import EPS, batch_normalize
from backprop_audit.model.regularizers import L2

SAFETY = 4.0  # the worst-case count's factor for the short elementwise chain (see the module docstring)
# The roundings of one gradient-descent step beyond g's own: the product η·g and the difference W - η·g
# (a formula may also round η/m, or cast a float64 result to float32: each within SAFETY's few roundings)
STEP_ROUNDINGS = 2.0
KINK_ROUNDING = 4.0  # |z| within this many ε·(fan-in + 1)·Σ|W||a|+|b| of 0 counts as on the kink (kink_cells)


def unit_roundoff(dtype) -> float:
    return float(np.finfo(dtype).eps) / 2


# The activation- and loss-specific steps of the model, one function of arrays each: the model below
# calls them by name for a network, by per-network code for a padded stack (_each). Their facts are
# rows of the operation table (model/operations.py).

def _activate(name: str, z: np.ndarray) -> np.ndarray:
    """a = g(z) in float64 (softmax over the last axis)."""
    return operations.activation(name).forward(z)


def _carried(name: str, z: np.ndarray, a: np.ndarray, M: np.ndarray) -> np.ndarray:
    """A = |a| + |g'(z)|·M, the softmax's own form for it: see forward_magnitudes."""
    return operations.activation(name).carried(z, a, M)


def _magnitude_prime(name: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """|g'| with its subtraction turned into an addition: the scale g'(z)'s rounding error lives on."""
    magnitude = operations.activation(name).magnitude
    if magnitude is None:
        raise ValueError(name)
    return magnitude(z, a)


def _moved_slope(name: str, z: np.ndarray, a: np.ndarray, M: np.ndarray, floor: float) -> np.ndarray:
    """|g''(z)|·M + τ/ε: how far g'(z) moves under z's own rounding error (ε·K·M, the error of its sum), which
    a sum over the batch or the units can leave uncancelled while the terms cancel, and its flush to zero
    where it is subnormal (XLA flushes float32 σ'(z) at z < -87, torch keeps it; then multiplied by dC/da,
    so the flush reaches δ on the scale of dC/da, not of τ). 0 for relu and identity, whose g' is exact."""
    curvature = operations.activation(name).curvature
    return np.zeros_like(z) if curvature is None else curvature(z, a) * M + floor


@dataclass(frozen=True)
class Padding:
    """What a padded stack of different networks (padded.py) adds to its arrays; see the module docstring."""

    units: tuple  # per a[k], k = 0..depth: boolean (count, width[k]), the real units
    cells: tuple  # per a[k]: boolean (count, batch, width[k]), the real rows and units
    in_front: np.ndarray  # (count,) the identity layers in front of each network's layer 1
    widths: np.ndarray  # (count, depth + 1) each network's true width of a[k] (in front of it: its input's)
    batch: np.ndarray  # (count,) each network's true batch N, an integer


@dataclass(frozen=True)
class Parameters:
    """The arrays the tolerance model reads: one network, a stack of networks of one architecture (every
    array has a leading network axis; transposes swap the last two axes, sums over the batch run over
    axis -2), or a padded stack of different networks (`of_padded`: activations and loss are then
    per-network codes, and `padding` says which cells are real)."""

    Ws: list
    bs: list
    activations: tuple  # per layer: its name, or (count,) codes into network.ACTIVATIONS
    loss: str | np.ndarray  # its name, or (count,) codes into network.LOSSES (in their order)
    X: np.ndarray
    Y: np.ndarray
    padding: Padding | None = None
    l2: float | np.ndarray = 0.0  # λ of the L2 term: a number, or (count,) one per network of a stack
    eta: float | np.ndarray | None = None  # the step's learning rate (None: no step quantities)
    # batch normalization and dropout (one network only: a stack never holds them): per layer (γ, β) or None,
    # per layer the 0/1 mask or None, and p (see normalization.py); None when the network has neither
    norms: tuple | None = None
    masks: tuple | None = None
    dropout: float | None = None

    @classmethod
    def of(cls, net) -> "Parameters":
        special = {} if not net.special_layers else dict(
            norms=tuple(None if l.gamma is None else (l.gamma, l.beta) for l in net.layers),
            masks=tuple(l.mask for l in net.layers), dropout=net.dropout)
        return cls([l.W for l in net.layers], [l.b for l in net.layers],
                   tuple(l.activation for l in net.layers), net.loss, net.X, net.Y, l2=net.l2, eta=net.eta, **special)

    def norm_at(self, k: int):
        """(γ, β) in float64 of layer k if it is batch-normalized, else None."""
        if self.norms is None or self.norms[k - 1] is None:
            return None
        return tuple(x.astype(np.float64) for x in self.norms[k - 1])

    def keep_at(self, k: int):
        """mask ⊙ 1/(1 - p) of layer k in float64 (what dropout multiplies g(u) by), None without dropout."""
        if self.masks is None or self.masks[k - 1] is None:
            return None
        return self.masks[k - 1].astype(np.float64) / (1 - self.dropout)

    @classmethod
    def of_padded(cls, stack) -> "Parameters":
        """The parameters of a padded.PaddedStack: its arrays, codes and masks (stack layer numbering)."""
        units = tuple(stack.unit_masks)
        cells = tuple(stack.row_mask[:, :, None] & real[:, None, :] for real in units)
        widths = np.stack([real.sum(axis=-1) for real in units], axis=1)
        padding = Padding(units, cells, stack.prepend, widths, stack.row_mask.sum(axis=-1))
        activations = tuple(stack.activation_codes[:, k] for k in range(stack.depth))
        return cls(list(stack.Ws), list(stack.bs), activations, stack.loss_codes, stack.X, stack.Y, padding,
                   l2=stack.l2, eta=stack.eta if stack.steps else None)

    @property
    def widths(self) -> tuple:
        return (self.X.shape[-1],) + tuple(W.shape[-2] for W in self.Ws)

    @property
    def batch(self) -> int:
        return self.X.shape[-2]

    @cached_property
    def magnitudes(self) -> list:
        """(|W[l]|, |b[l]| as a row) in float64 for every layer, taken once for all the absolute-value passes."""
        return [(np.abs(W.astype(np.float64, copy=False)), np.abs(b.astype(np.float64, copy=False))[..., None, :])
                for W, b in zip(self.Ws, self.bs)]

    def in_front_at(self, k: int) -> np.ndarray | None:
        """(count,) True where layer k is an identity layer in front of a network; None where no network has one."""
        if self.padding is None:
            return None
        front = k <= self.padding.in_front
        return front if front.any() else None


def _parameters(p) -> Parameters:
    return p if isinstance(p, Parameters) else Parameters.of(p)


def _sizes(p: Parameters) -> tuple:
    """(the widths of a[0..L], the batch N, the identity layers in front): numbers for unpadded
    networks, each network's own for a padded stack ((count, L + 1), (count,), (count,))."""
    if p.padding is None:
        return np.array(p.widths), p.batch, 0
    return p.padding.widths, p.padding.batch, p.padding.in_front


def _per_network(p: Parameters, v):
    """Per-network numbers of a padded stack as a column that broadcasts over each network's (batch, units)."""
    return v if p.padding is None else np.reshape(v, (-1, 1, 1))


def _real(p: Parameters, k: int, x: np.ndarray) -> np.ndarray:
    """x with 0 outside the real cells of a[k] (a padded stack); x itself for networks without padding."""
    return x if p.padding is None else np.where(p.padding.cells[k], x, 0.0)


def _floats(x):
    return x.astype(np.float64) if np.ndim(x) else float(x)


def _each(which, names, step, *arrays):
    """step(which, *arrays) for an activation's or loss's name; for (count,) codes into `names` (a padded
    stack), step(names[c], *the arrays restricted to the networks with code c) for every code c present,
    assembled along the network axis, so that each network gets its own step. A step may return a tuple
    of arrays: then a tuple of assembled arrays."""
    if not isinstance(which, np.ndarray):
        return step(which, *arrays)
    if np.all(which == which[0]):  # one code for the whole stack: no subsets to copy
        return step(names[which[0]], *arrays)
    out = None
    for code in np.unique(which):
        rows = np.flatnonzero(which == code)
        value = step(names[code], *(x[rows] if isinstance(x, np.ndarray) else x for x in arrays))
        parts = value if isinstance(value, tuple) else (value,)
        if out is None:
            out = tuple(np.empty((len(which),) + part.shape[1:], part.dtype) for part in parts)
        for whole, part in zip(out, parts):
            whole[rows] = part
    return out if isinstance(value, tuple) else out[0]


KINKED_CODES = [ACTIVATIONS.index(name) for name in operations.KINKED_ACTIVATIONS]


def _kinked(activation):
    """Whether a layer's activation has a kink (relu; operations.KINKED_ACTIVATIONS): a bool, or (count,)
    bools for per-network codes."""
    if isinstance(activation, np.ndarray):
        return np.isin(activation, KINKED_CODES)
    return activation in operations.KINKED_ACTIVATIONS


def _transpose(M):
    return np.swapaxes(M, -1, -2)


def _fit(x: np.ndarray, width: int) -> np.ndarray:
    """x cut or zero-padded along its last axis to `width` (padded stack layers have their own widths)."""
    if x.shape[-1] >= width:
        return x[..., :width]
    return np.concatenate([x, np.zeros(x.shape[:-1] + (width - x.shape[-1],))], axis=-1)


def _activate_real(name: str, z: np.ndarray, units) -> np.ndarray:
    """_activate; the softmax over the real units only (exp(-inf) = 0 on a padded stack's padded units)."""
    coupled = units is not None and operations.activation(name).coupled  # the softmax couples its units
    return _activate(name, np.where(units, z, -np.inf) if coupled else z)


def _forward64(p):
    """z[l], a[l] in float64 (p: a Network or Parameters; 0 outside a padded stack's real cells)."""
    p = _parameters(p)
    zs, acts = [None], [p.X.astype(np.float64)]  # a padded stack's padded inputs are 0
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for k, (W, b, activation) in enumerate(zip(p.Ws, p.bs, p.activations), start=1):
            W, b = W.astype(np.float64, copy=False), b.astype(np.float64, copy=False)
            z = _real(p, k, acts[-1] @ _transpose(W) + b[..., None, :])
            units = None if p.padding is None else np.broadcast_to(p.padding.units[k][:, None, :], z.shape)
            norm = p.norm_at(k)
            if norm is not None:  # the activation's input is u = γ ⊙ ẑ + β: what the model's zs hold there
                z = batch_normalize(z, *norm).u
            zs.append(z)  # (a padded row would hold b)
            a = _real(p, k, _each(activation, ACTIVATIONS, _activate_real, z, units))
            keep = p.keep_at(k)
            acts.append(a if keep is None else a * keep)
    return zs, acts


def forward_magnitudes(p, zs, acts) -> list:
    """A[l], the scale of a[l]'s absolute rounding error (l = 0..L), from the absolute-value forward pass.

    z[l] = a[l-1] W[l]ᵀ + b[l] is a sum: its absolute error is about ε·K·M[l] with M[l] = A[l-1] |W[l]|ᵀ + |b[l]|
    (A[l-1] also carries the error a[l-1] already has). a = g(z) passes it on as |g'(z)|·M; so
    A[l] = |a[l]| + |g'(z[l])|·M[l]. For the softmax, ds_j = s_j((1 - s_j) dz_j - Σ_{k≠j} s_k dz_k), so
    A = s·(1 + (1 - s)·M + Σ_{k≠j} s_k M_k). Where the sum cancels (|z| ≪ M) A ≫ |a|: that is the case
    the soak found (see the module docstring). An identity layer in front is exact: A passes through it.
    """
    return _magnitudes(_parameters(p), zs, acts)[0]


def _magnitudes(p: Parameters, zs, acts) -> tuple[list, list]:
    """A (forward_magnitudes) and M[l] = A[l-1] |W[l]|ᵀ + |b[l]| (M[0] is None), the magnitude of z[l]'s sum;
    at a batch-normalized layer M[l] is u's (NormScales.Mu) and A is taken after dropout's scaling."""
    A, Ms = [np.abs(acts[0])], [None]
    with np.errstate(over="ignore", invalid="ignore"):
        for k, ((absW, absb), activation) in enumerate(zip(p.magnitudes, p.activations), start=1):
            M = A[-1] @ _transpose(absW)
            M += absb
            if p.norm_at(k) is not None:
                M = norm_scales(p, k, acts[k - 1], A[-1]).Mu
            g = acts[k] if p.keep_at(k) is None else _activate(activation, zs[k])  # g(u), before dropout
            carried = _real(p, k, _each(activation, ACTIVATIONS, _carried, zs[k], g, M))
            if p.norm_at(k) is not None and _kinked(activation):
                carried = _across_the_kink(p, k, zs[k], g, M, carried)
            if p.keep_at(k) is not None:  # dropout scales g(u) and its error by mask/(1 - p) (one rounding more)
                carried = carried * p.keep_at(k)
            front = p.in_front_at(k)  # its real units, the input's, fit both layers' widths
            A.append(carried if front is None else
                     np.where(front[:, None, None], _fit(A[-1], carried.shape[-1]), carried))
            Ms.append(M)
    return A, Ms


def _across_the_kink(p: Parameters, k: int, u, g, M, carried):
    """A of a batch-normalized ReLU layer where u is on the kink (within its own rounding of 0, kink_cells' test):
    there g(u) errs by up to u's error (relu is 1-Lipschitz on both sides), |a| + M, not |g'(u)|·M = 0 on the flat
    side. Elsewhere an error that reaches a kink is ε·K·M of a z within that of 0, negligible; after a batch norm
    u's error can be O(1) (1/σ amplifies z - μ's: rows equal in float32, ẑ computed from the rounding of μ alone,
    u = β in exact arithmetic; soak, regime huge, float32: torch's a[1] = 0 where jax's was 7.5, dW[2] 0.38
    against 6.49 at 3e28 times the tolerance)."""
    K = sum(p.widths[:k]) + k
    on = np.abs(u) <= KINK_ROUNDING * unit_roundoff(p.X.dtype) * K * M
    return np.where(on, np.maximum(carried, np.abs(g) + M), carried)


class NormScales(NamedTuple):
    """The tolerance model's facts of one batch-normalized layer (float64, row-major):
    zhat, sigma = √(var + ε) (n,), and the scales of the rounding errors (in units of ε·K, as M): Mc of
    z - μ, s_rel the relative error of σ, Mhat of ẑ, Mu of u = γ ⊙ ẑ + β (what g(u) inherits)."""
    zhat: np.ndarray
    sigma: np.ndarray
    gamma: np.ndarray
    Mc: np.ndarray
    s_rel: np.ndarray
    Mhat: np.ndarray
    Mu: np.ndarray


def norm_scales(p: Parameters, k: int, a_below: np.ndarray, A_below: np.ndarray) -> NormScales:
    """How batch normalization at layer k carries z's rounding error (ε·K·M, M = A[k-1] |W|ᵀ + |b|) into u
    (a_below, A_below: a[k-1] and A[k-1] in float64):
    - c = z - μ errs by z's and μ's errors and the subtraction's rounding: Mc = M + mean_n M;
    - var = mean c² errs by 2·mean(|c|·Mc) (and its own sum, on mean c²), so σ = √(var + ε) by the relative
      s_rel = (mean(|c|·Mc) + mean c²)/σ²: where var ≈ 0, ε dominates σ² and keeps it bounded;
    - ẑ = c/σ errs by Mhat = (Mc + |c|·s_rel)/σ + |ẑ| (its own rounding): 1/σ amplifies z's error up to
      1/√ε ≈ 316 times on a near-constant batch;
    - u = γ ⊙ ẑ + β: Mu = |γ|·Mhat + |γ ⊙ ẑ| + |β|."""
    gamma, beta = p.norm_at(k)
    absW, absb = p.magnitudes[k - 1]
    M = A_below @ _transpose(absW) + absb
    W, b = p.Ws[k - 1].astype(np.float64), p.bs[k - 1].astype(np.float64)
    z = a_below @ _transpose(W) + b[..., None, :]
    normalized = batch_normalize(z, gamma, beta)
    c = z - normalized.mu[..., None, :]
    sigma = np.sqrt(normalized.var + float(EPS))
    Mc = M + M.mean(axis=-2, keepdims=True)
    s_rel = ((np.abs(c) * Mc).mean(axis=-2) + normalized.var) / sigma ** 2
    Mhat = (Mc + np.abs(c) * s_rel[..., None, :]) / sigma[..., None, :] + np.abs(normalized.zhat)
    absg = np.abs(gamma)[..., None, :]
    Mu = absg * Mhat + np.abs(absg * normalized.zhat) + np.abs(beta)[..., None, :]
    return NormScales(normalized.zhat, sigma, gamma, Mc, s_rel, Mhat, Mu)


class Forward(NamedTuple):
    """The forward passes the model reads, in float64: z[l] (zs[0] is None), a[l] and A[l], l = 0..L, and
    M[l] (M[0] is None), the magnitude of z[l]'s sum (_magnitudes)."""
    zs: list
    acts: list
    A: list
    M: list


def forward_pass(p, values: tuple | None = None) -> Forward:
    """_forward64 and forward_magnitudes, once for the tolerances and the kink test.
    values: (zs, acts) if already computed in float64 (the sweep's manual forward pass is _forward64's)."""
    p = _parameters(p)
    zs, acts = values or _forward64(p)
    return Forward(zs, acts, *_magnitudes(p, zs, acts))


def _output_scales(loss: str, output: str, z, a, A, y, N, n_out, total, smallest: float = 0.0) -> tuple:
    """B of C, of dC/da[L] and of dC/dz[L] (before the floor) at the output layer: the loss-specific
    start of error_scales. z, a: z[L], a[L]; A: A[L] (forward_magnitudes); y: |Y|; N, n_out: the batch
    and the output width (numbers, or arrays that broadcast against the batch and unit axes);
    total(terms): the sum of terms over the batch and unit axes of each network; smallest: the checked
    dtype's smallest normal number (below it 1/s and 1/(1 - s) are not determined in that dtype)."""
    row = operations.loss(loss)
    if row.factor is not None:
        factor = row.factor(N)
        B_a = factor * (A + y)
        B_C = np.asarray(factor * total((A + y) ** 2))
        return B_C, B_a, operations.activation(output).output_magnitude(z, a, A, B_a)
    if row.scales is not None:  # the other elementwise losses (mse, mae, huber, the hinge): the row's own B
        B_C, B_a = row.scales(a, A, y, N, n_out, total)
        return np.asarray(B_C), B_a, operations.activation(output).output_magnitude(z, a, A, B_a)
    s, tiny = np.abs(a), np.finfo(np.float64).tiny
    carried = A - s  # the error s already carries from the forward sums (forward_magnitudes)

    def inverse(q):
        """The scale of 1/q for q = s or 1 - s: 1/q times the relative error of q, which is (the absolute error
        of s) / q = (max(q, s) + carried) / q: q's own rounding, or for 1 - s with s > 1/2 that of s (the
        subtraction is exact there; float32 rounds σ(z) = 1 - 1.22e-7 to 1 - 1.19e-7, so every float32
        program's 1 - σ(z) is 2% off: soak, float32 saturated sigmoid_bce networks judged against float64
        oracles, 0.9997x the tolerance without it). Infinite where q is below the checked dtype's smallest
        normal number: the network does not determine 1/q in that dtype (s = 1e-98 in float64 is 0 or a
        subnormal in float32, whose programs return y/(N·tiny) = 4e35 for a true 2e98; float64 rounds
        σ(z) to 1, so 1 - s to 0, for z > 37)."""
        Q = np.maximum(q, tiny)
        return np.where(q < smallest, np.inf, (1 / Q) * ((np.maximum(Q, s) + carried) / Q))
    B_a, B_z = row.cross_entropy_scales(s, A, y, N, inverse)
    B_C = np.asarray(total((y + 1) * (np.abs(z) + np.log(np.maximum(n_out, 2)) + 1)) / (N if row.batch_mean else 1))
    return B_C, B_a, B_z


_OUTPUT_PAIRS = tuple((loss, output) for loss in LOSSES for output in ACTIVATIONS)


def _output_pair(p: Parameters):
    """(loss, output activation): names, or for a padded stack (count,) codes into _OUTPUT_PAIRS."""
    if isinstance(p.loss, np.ndarray):
        return p.loss * len(ACTIVATIONS) + p.activations[-1]
    return p.loss, p.activations[-1]


def _real_output_scales(pair, z, a, A, y, N, n_out, cells, smallest) -> tuple:
    """_output_scales, its sums over a padded stack's real cells only (cells: None without padding)."""
    total = lambda terms: np.sum(terms if cells is None else np.where(cells, terms, 0.0), axis=(-2, -1), keepdims=True)
    return _output_scales(*pair, z, a, A, y, N, n_out, total, smallest)


def _elementwise_output(p: Parameters):
    """Whether dC/dz[L] = dC/da[L] ⊙ g'(z[L]) (a squared loss on an elementwise output): a bool, or a
    (count, 1, 1) column of them for per-network codes."""
    elementwise = lambda loss, output: not operations.loss(loss).fused and not operations.activation(output).coupled
    if not isinstance(p.loss, np.ndarray):
        return elementwise(p.loss, p.activations[-1])
    pairs = np.array([elementwise(loss, output) for loss, output in _OUTPUT_PAIRS])
    return pairs[_output_pair(p)].reshape(-1, 1, 1)


def error_scales(p, floor: float = 0.0, forward: Forward | None = None) -> dict[str, np.ndarray]:
    """B for every quantity, canonical layout, float64 (see the module docstring); p: a Network or
    Parameters (a stack gives every B a leading network axis; a padded stack's B is 0 outside its real cells).

    floor (τ/ε): the flush-to-zero error of one intermediate entry (see tolerance_for), added to every
    B_z before it is summed into dW, db and the layer below, so a flushed subnormal δ is carried through
    the same absolute-value pass as any other error (on a padded stack's real cells only: db sums N floors);
    to g'(z) before it multiplies dC/da (_moved_slope) and to a[l-1] before it multiplies δ in dW.
    """
    p = _parameters(p)
    zs, acts, A, M = forward or forward_pass(p)
    L = len(p.Ws)
    y = np.abs(p.Y.astype(np.float64))  # a padded stack's padded targets are 0
    widths, N, _ = _sizes(p)
    cells = None if p.padding is None else p.padding.cells[L]
    B = {}
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        B_C, B_a, B_z = _each(_output_pair(p), _OUTPUT_PAIRS, _real_output_scales, zs[L], acts[L], A[L], y,
                              _per_network(p, N), _per_network(p, widths[..., L]), cells, float(np.finfo(p.X.dtype).tiny))
        B["C"] = B_C[..., 0, 0]
        magnitudes = p.norms is not None  # D: |the gradient| bounded, apart from B (see _norm_backward_scales)
        for l in range(L, 0, -1):
            keep, normalized = p.keep_at(l), p.norm_at(l) is not None
            g = acts[l] if keep is None else _activate(p.activations[l - 1], zs[l])  # g(u), before dropout
            if l < L:
                B_a = B_z_next @ p.magnitudes[l][0]  # |W[l+1]|
                B_g = B_a if keep is None else B_a * keep  # dropout: dC/dg = dC/da ⊙ mask/(1 - p)
                prime = _each(p.activations[l - 1], ACTIVATIONS, _magnitude_prime, zs[l], g)
                B_z = B_g * prime
                if magnitudes:
                    D_a = D_z_next @ p.magnitudes[l][0]
                    D_z = (D_a if keep is None else D_a * keep) * prime
            elif magnitudes:  # the output's scales with A[L] = |a[L]| (no forward error): |dC/da[L]|, |dC/dz[L]|'s terms
                _, D_a, D_z = _each(_output_pair(p), _OUTPUT_PAIRS, _real_output_scales, zs[L], acts[L],
                                    np.abs(acts[L]), y, _per_network(p, N), _per_network(p, widths[..., L]), cells,
                                    float(np.finfo(p.X.dtype).tiny))
            # g'(u) moves by g''·(u's error): first order, that is |dC/da| (D) times it, not dC/da's error scale (B),
            # which below a batch norm is far above |dC/da| (B ⊗ M would count an error times an error)
            slope_of = D_a if normalized else B_a
            moved = (slope_of if keep is None else slope_of * keep) * _each(p.activations[l - 1], ACTIVATIONS,
                                                                             _moved_slope, zs[l], g, M[l], floor)
            B_z = B_z + (moved if l < L else np.where(_elementwise_output(p), moved, 0.0))  # a cross-entropy's
            # and a softmax's dC/dz[L] carry z[L]'s error in A[L] already
            names = layer_names(l)
            B[names.a] = B_a = _real(p, l, B_a)
            if normalized:  # B_z so far is u's: through the batch norm to z
                B_z, D_z = _norm_backward_scales(p, l, acts[l - 1], A[l - 1], B_z + floor, D_z, B)
            B_z = _real(p, l, B_z + floor)
            B[names.z] = B_z
            # a[l-1] flushed where it is subnormal (XLA; σ(z) at -88.7 < z < -87.3 in float32) moves dW by up to
            # τ·|δ|: the floor on A[l-1] carries it (0 outside a padded stack's real cells)
            B[names.W] = _transpose(B_z) @ (_real(p, l - 1, A[l - 1] + floor) if floor else A[l - 1])
            B[names.b] = B_z.sum(axis=-2)
            B_z_next = B_z
            if magnitudes:
                D_z_next = D_z
        if np.any(p.l2):
            _add_l2_scales(p, B)
    return B


def _norm_backward_scales(p: Parameters, l: int, a_below, A_below, B_u, D_u, B: dict) -> tuple:
    """B of dC/du[l] (given), of dC/dgamma[l] and dC/dbeta[l] (written into B), and (B, D) of dC/dz[l] (returned).

    First order: the error of a product x·y is δx·|y| + |x|·δy. B is the scale of a gradient's error (its terms'
    magnitudes plus what the forward errors add), D = D_u a bound of |du| itself (the absolute-value backward
    pass without error terms): where an error of ẑ or σ multiplies du, its factor is |du| (D), not du's error
    scale (B). Below a batch norm B exceeds |du| by 1e2-1e4 (u's error Mu carried through g''), and the product
    B ⊗ Mhat, an error times an error, had made every float32 check through batch norm vacuous (dC/dgamma
    detected only ×14; tests/test_layers.py).

    dγ = Σ_n du ⊙ ẑ, dβ = Σ_n du: their terms (B_u |ẑ|) and ẑ's error (D_u Mhat). dz = (γ/σ)(du - mean du -
    ẑ·mean(du ⊙ ẑ)) cancels (it is du projected off the batch mean and off ẑ): its rounding lives on the terms,
    (|γ|/σ)(B_u + mean B_u + |ẑ|·mean(B_u|ẑ|)); σ's relative error s_rel multiplies the terms' magnitudes,
    (|γ|/σ)·s_rel·(D_u + mean D_u + |ẑ|·mean(D_u|ẑ|)); ẑ's error enters in both places ẑ does,
    (|γ|/σ)(Mhat·mean(D_u|ẑ|) + |ẑ|·mean(D_u·Mhat)). D of dz is (|γ|/σ)(D_u + mean D_u + |ẑ|·mean(D_u|ẑ|))."""
    ns = norm_scales(p, l, a_below, A_below)
    absz = np.abs(ns.zhat)
    names = norm_names_at(l)
    B[names[2]] = B_u
    B[names[0]] = (B_u * absz + D_u * ns.Mhat).sum(axis=-2)
    B[names[1]] = B_u.sum(axis=-2)
    scale = (np.abs(ns.gamma) / ns.sigma)[..., None, :]
    mean = lambda x: x.mean(axis=-2, keepdims=True)
    projected = lambda x: scale * (x + mean(x) + absz * mean(x * absz))
    D_z = projected(D_u)
    B_z = projected(B_u) + ns.s_rel[..., None, :] * D_z + scale * (ns.Mhat * mean(D_u * absz) + absz * mean(D_u * ns.Mhat))
    return B_z, D_z


def norm_names_at(l: int) -> tuple[str, str, str]:
    """dC/dgamma[l], dC/dbeta[l], dC/du[l]."""
    return tuple(str(Quantity.of(kind, l)) for kind in NORM_KINDS)


def _l2_layers(p: Parameters):
    """(l, λ of layer l, broadcasting over its network axis) for every layer the L2 term covers: λ is 0 on a
    padded stack's identity layers in front of a network (not its weights)."""
    for l in range(1, len(p.Ws) + 1):
        front = p.in_front_at(l)
        yield l, p.l2 if front is None else np.where(front, 0.0, p.l2)


def _add_l2_scales(p: Parameters, B: dict) -> None:
    """The L2 term's part of B (see the module docstring): λ|W[l]| in dC/dW[l], its own terms in C."""
    for l, lam in _l2_layers(p):
        absW = p.magnitudes[l - 1][0]
        B[layer_names(l).W] = B[layer_names(l).W] + L2.gradient_magnitude(absW, lam)
        B["C"] = B["C"] + L2.cost_magnitude(absW, lam)


def sum_lengths(p) -> dict[str, tuple]:
    """(K_sum, K_chain) for every quantity: the lengths of the long sums feeding an entry (widths from the
    output back, the forward sums, N) and the count of its short elementwise steps (4 per layer on the
    way), from each network's true sizes ((count,) arrays for a padded stack, whose identity layers in
    front repeat a[0] and do not count; the entries of those layers are not meaningful).

    K_sum(C) = N·n_L, K_chain(C) = L + 4; K_sum(dC/da[l]) = K_sum(dC/dz[l]) = Σ widths (the backward sums
    Σ widths[l:] and the forward sums feeding z[l], Σ widths[:l]), K_chain = 4(L - l + 1); dC/dW[l] and
    dC/db[l] add the batch sum N to K_sum."""
    p = _parameters(p)
    widths, N, front = _sizes(p)
    L = len(p.Ws)
    total = widths.sum(axis=-1) - front * widths[..., 0]
    K = {"C": (_floats(N * widths[..., L]), _floats(L - front + 4))}
    if np.any(p.l2):  # the L2 term's sum of squares: one term per weight of the layers it covers
        weights = sum(np.where(lam > 0, widths[..., l] * widths[..., l - 1], 0) for l, lam in _l2_layers(p))
        K["C"] = (_floats(N * widths[..., L] + weights), K["C"][1])
    normalized = [l for l in range(1, L + 1) if p.norm_at(l) is not None]
    if normalized:  # each batch norm adds its batch sums (μ, var, the backward means) and ~8 elementwise steps
        total = total + 3 * N * len(normalized)
    for l in range(1, L + 1):
        chain = float((L - l + 1) * 4)  # L - l: the same for every network of a padded stack
        chain += 8.0 * sum(1 for k in normalized if k >= l) + (4.0 * (L - l + 1) if p.dropout is not None else 0.0)
        names = layer_names(l)
        K[names.a] = K[names.z] = (_floats(total), chain)
        K[names.W] = K[names.b] = (_floats(total + N), chain)
        if l in normalized:
            for name in norm_names_at(l):
                K[name] = (_floats(total + N), chain)
    return K


def rounding_growth(K_sum, K_chain):
    """SAFETY·(K_sum + K_chain): how many unit roundoffs, on the scale B + |g|(1 + Z) + τ/ε, an entry fed by
    sums of K_sum terms in all and K_chain elementwise steps can be off by (the worst-case count for both;
    the module docstring says why the probabilistic bound for the sums is not in force yet)."""
    return SAFETY * (K_sum + K_chain)


# ---- the measured count, for networks with long sums ----------------------------------------------------

MEASURED_FROM = 128  # a network whose longest sum (Σ widths + N) has this many terms gets the measured count
NOISE_MARGIN = 16.0  # the measured count's factor over the worst rounding the oracles themselves showed
PROBABILISTIC = 4.0  # λ of the float64 floor λ·√K_sum + SAFETY·K_chain (Higham & Mary 2019)


def longest_sum(p) -> int:
    """Σ widths + N: the number of terms of the longest sum that feeds a gradient (dC/dW[1]'s K_sum)."""
    p = _parameters(p)
    return int(sum(p.widths) + p.batch)


def is_measured(p) -> bool:
    """Whether a network is judged with the measured count (`measured_tolerances`): one network, not a
    stack, whose longest sum has at least MEASURED_FROM terms. A padded stack (padded.WIDTH, BATCH,
    DEPTH) never holds one, and a sweep refuses such architectures: both judge with the worst-case count."""
    p = _parameters(p)
    # a network with batch normalization or dropout: never (the term-by-term backprop, judging/sequential.py,
    # that the measured count samples does not compute those layers), the worst-case count judges it
    return p.X.ndim == 2 and p.padding is None and p.norms is None and p.masks is None and longest_sum(p) >= MEASURED_FROM


def entry_scale(piece: tuple, value: np.ndarray) -> np.ndarray:
    """S = B + |g|·(1 + Z) + τ/ε entry by entry: the scale on which the model counts unit roundoffs
    (tolerance_for is ε·count·S)."""
    _, B, amplification, floor = piece
    with np.errstate(over="ignore"):
        return B + np.abs(np.asarray(value, np.float64)) * amplification + floor


def roundoffs_shown(piece: tuple, reference: np.ndarray, samples, dtype, excluded: np.ndarray | None = None) -> float:
    """The largest |sample - reference| / (ε·S) over the entries of every sample: how many unit roundoffs
    of the scale S the samples' own rounding used on this network (excluded: entries left out, see
    `undetermined`; a non-finite deviation elsewhere is the instrument check's business, not a reason to
    widen the tolerance)."""
    S = entry_scale(piece, reference) * unit_roundoff(dtype)
    shown = 0.0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for sample in samples:
            used = np.abs(np.asarray(sample, np.float64) - reference) / S
            if excluded is not None:
                used = np.where(excluded, np.nan, used)
            used = used[np.isfinite(used)]
            if used.size:
                shown = max(shown, float(used.max()))
    return shown


UNDETERMINED_MARGIN = 4.0  # a float32 entry counts as determined when its samples stay within 1/4 of the bound


def undetermined(piece: tuple, reference: np.ndarray, samples) -> np.ndarray:
    """The entries a float32 network does not determine: where at least two of the float32 samples (every
    one, if fewer) miss the float64 truth by more than 1/UNDETERMINED_MARGIN of the worst-case float32 bound
    (tolerance_for(piece)), or are not finite. (On an ordinary entry they use 1e-5 to 1e-3 of it; a sample
    near the bound means the bound is as large as the error float32 makes there, and a correct formula,
    which rounds the same σ(z) as the samples, then lands on either side of it: seen at 0.98-1.18x.) There the computation itself fails in float32, not one implementation of it: the
    truth is beyond float32's range (a dC/da[1] of -2.4e40), or rests on 1 - σ(z) where float32 rounds σ(z)
    to 1 (a sigmoid_bce dC/da[L] of 1.96e5 that every float32 program returns as y/(N·tiny) ≈ 8e35; soak,
    regime "overflow-medium"). Such entries get an infinite tolerance, and the soak counts them
    (soak_entries_with_infinite_tolerance), as for an underflowed probability in any dtype. One sample alone
    beyond the bound is a broken oracle: reference.py reports it as an instrument fault."""
    bound = tolerance_for(piece, reference) / UNDETERMINED_MARGIN
    with np.errstate(over="ignore", invalid="ignore"):
        misses = [~(np.abs(np.asarray(sample, np.float64) - reference) <= bound) for sample in samples]
    if not misses:
        return np.zeros(np.shape(reference), bool)
    return np.sum(misses, axis=0) >= min(2, len(misses))


def measured_growth(K_sum, K_chain, shown: float, dtype):
    """The count of unit roundoffs a measured network's entry is allowed: NOISE_MARGIN times what the
    oracles' own rounding showed on it (roundoffs_shown), at least a floor, at most the worst-case count.

    Why this is sound where the worst-case count is hopeless (the module docstring: at [256, 4096, 10]/1024
    float32 the worst case lets ×2 pass while the real error is ~1e6x smaller): the rounding error of a
    correct computation on one network is a property of that network and of the computation, and the oracles
    perform the same computation (forward pass in the dtype, then the backward sums). So their error, seen on
    all the entries of a quantity at once, says how much of the worst case this network uses; a correct
    formula's error is of the same kind and size, and NOISE_MARGIN covers another order of summation.
    The floor covers a quantity whose few entries happen to round well:
    - float32: K_chain (one roundoff per elementwise step on the scale S, which already holds every term's
      magnitude): there the oracles' errors are measured exactly, against float64 oracles on the same
      (cast) inputs, which round 2^29 times finer;
    - float64: PROBABILISTIC·√K_sum + SAFETY·K_chain (the probabilistic bound for the sums): no finer
      oracle exists, the samples are jax and a term-by-term backprop against torch, whose errors may coincide.
    """
    worst = rounding_growth(K_sum, K_chain)
    if np.dtype(dtype) == np.float32:
        floor = K_chain
    else:
        floor = PROBABILISTIC * np.sqrt(K_sum) + SAFETY * K_chain
    return np.minimum(worst, np.maximum(floor, NOISE_MARGIN * shown))


def measured_tolerances(net, reference: dict, samples: list, forward: Forward | None = None,
                        pieces: dict | None = None) -> dict[str, tuple]:
    """tolerances(net) with each quantity's count measured (measured_growth): `reference` {quantity: value}
    is what formulas are compared with, `samples` [{quantity: value}] computations of the same values in
    net's dtype whose deviation from it shows this network's rounding (see judging/reference.py); a
    sample may lack a quantity. In float32, against a float64 reference, B is infinite on the entries
    float32 does not determine (`undetermined`), which the count is not measured on."""
    pieces = pieces if pieces is not None else tolerances(net, forward=forward)  # (given: tolerances(net) already)
    K, eps, dtype = sum_lengths(net), unit_roundoff(net.X.dtype), net.X.dtype
    measured = {}
    for name, piece in pieces.items():
        if isinstance(piece, StepScale):  # a step W'[l] is judged on its gradient's measured pieces (below)
            continue
        shown_by = [sample[name] for sample in samples if name in sample]
        excluded = undetermined(piece, reference[name], shown_by) if np.dtype(dtype) == np.float32 else None
        shown = roundoffs_shown(piece, reference[name], shown_by, dtype, excluded)
        B = piece[1] if excluded is None or not excluded.any() else np.where(excluded, np.inf, piece[1])
        measured[name] = (eps * measured_growth(*K[name], shown, dtype), B) + piece[2:]
    for name, piece in pieces.items():
        if isinstance(piece, StepScale):
            measured[name] = piece._replace(gradient=measured[str(Quantity.parse(name).gradient())])
    return measured


def largest_preactivation(p, forward: Forward | None = None):
    """Z = max over layers and units of Σ_k |W_jk||a_k| + |b_j|: how large the forward sums get (a number
    for one network, one per network for a stack: over its real cells and real layers only; an identity
    layer in front would add max |X|, which the network alone lacks)."""
    p = _parameters(p)
    forward = forward or forward_pass(p)
    Z = 0.0
    for l, (absW, absb) in enumerate(p.magnitudes, start=1):
        if l == 1 and p.norm_at(1) is None:
            magnitude = forward.M[1]  # the same sum: A[0] = |a[0]|
        else:
            magnitude = np.abs(forward.acts[l - 1]) @ _transpose(absW)
            magnitude += absb
        if p.norm_at(l) is not None:  # the activation's input is u, whose error scale Mu is (forward.M[l])
            magnitude = np.maximum(magnitude, forward.M[l])
        largest = np.maximum(Z, _real(p, l, magnitude).max(axis=(-2, -1)))
        front = p.in_front_at(l)
        Z = largest if front is None else np.where(front, Z, largest)
    return Z


def tolerances(p, dtype=None, forward: Forward | None = None) -> dict[str, tuple]:
    """For every quantity the pieces of its tolerance: (SAFETY·ε·(K_sum + K_chain), B, 1 + Z, τ/ε).

    p: a Network, or Parameters of a stack (then K, B and Z have a leading network axis where they
    differ from network to network; a padded stack's are keyed by stack quantity names).
    forward: forward_pass(p), if already computed (the kink test reads it too)."""
    p = _parameters(p)
    dtype = dtype or p.X.dtype
    eps = unit_roundoff(dtype)
    floor = float(np.finfo(dtype).tiny) / eps
    forward = forward or forward_pass(p)  # once, for both B and Z (the costly part on wide networks)
    B, K = error_scales(p, floor, forward), sum_lengths(p)
    amplification = 1 + largest_preactivation(p, forward)
    scales = {name: (eps * rounding_growth(*K[name]), B[name], amplification, floor) for name in B}
    if p.eta is not None:
        scales.update(step_scales(p, scales, eps))
    return scales


class StepScale(NamedTuple):
    """The tolerance pieces of a step quantity W'[l] (b'[l]): the pieces of its gradient's tolerance,
    the parameter W[l] (b[l]) before the step (float64, canonical; a stack's with its network axis first),
    η (a number, or one per network), and the step's own rounding coefficient SAFETY·STEP_ROUNDINGS·ε."""
    gradient: tuple
    parameter: np.ndarray
    eta: float | np.ndarray
    rounding: float


def step_scales(p: Parameters, scales: dict, eps: float) -> dict:
    """{W'[l], b'[l]: StepScale} for every layer of a network (or stack) with an η."""
    out = {}
    for l in range(1, len(p.Ws) + 1):
        for kind, parameter in (("W'", p.Ws[l - 1]), ("b'", p.bs[l - 1])):
            q = Quantity.of(kind, l)
            out[str(q)] = StepScale(scales[str(q.gradient())], parameter.astype(np.float64), p.eta,
                                    SAFETY * STEP_ROUNDINGS * eps)
    return out


def step_tolerance(scale: StepScale, value: np.ndarray, gradient_tolerance) -> np.ndarray:
    """η·tol(g) + SAFETY·STEP_ROUNDINGS·ε·(|W| + η|g|) entrywise for a step value W' (see the module
    docstring), η|g| read back as |W - W'| (its own rounding, ε|W'|, is inside the second term);
    gradient_tolerance: tolerance_for, or stacked_tolerance_for on a stack."""
    W = scale.parameter
    with np.errstate(over="ignore", invalid="ignore"):
        step = np.abs(W - value.astype(np.float64, copy=False))
        eta = np.reshape(scale.eta, np.shape(scale.eta) + (1,) * (W.ndim - np.ndim(scale.eta)))
        tol = eta * gradient_tolerance(scale.gradient, step / eta)
        tol += scale.rounding * (np.abs(W) + step)
        return tol


def value_tolerance(scale: tuple, value: np.ndarray) -> np.ndarray:
    """The part of a quantity's tolerance that grows with its value, at `value` (canonical layout): what two
    roundings of a mistake model (diagnose._fits) differ by on the model's own scale. A gradient's is
    coefficient·amplification·|value|; a step W' = W - η·g's is η times its gradient's at |W - value|/η plus
    the step's rounding on |W - value| (its |W| part is in the step's tolerance already): a StepScale's
    fields are (gradient, parameter, η, rounding), not a gradient's four pieces."""
    if isinstance(scale, StepScale):
        with np.errstate(over="ignore", invalid="ignore"):
            step = np.abs(scale.parameter - value.astype(np.float64, copy=False))
            eta = np.reshape(scale.eta, np.shape(scale.eta) + (1,) * (step.ndim - np.ndim(scale.eta)))
            return eta * value_tolerance(scale.gradient, step / eta) + scale.rounding * step
    coefficient, _, amplification, _ = scale
    return coefficient * amplification * np.abs(value)


def kink_cells(p, forward: Forward | None = None) -> list[tuple[int, np.ndarray]]:
    """[(layer, boolean z[layer] on the kink)] for every layer where a network has a kinked activation (ReLU).

    "On the kink" means within rounding of 0 in the network's dtype: |z| <= KINK_ROUNDING·ε·K·M, with
    M = Σ_k A_k |W_jk| + |b_j| the magnitude of the sum, A the absolute-value forward pass of the layers
    below (their own rounding reaches z too: forward_magnitudes) and K the widths summed so far, Σ
    widths[:l] + l. Then the sign of z, and so relu'(z), is not determined by the network, only by how a
    framework happens to round (seen: padding the jax oracle changed the sign of a z of 1e-17). On a padded
    stack only real cells of real ReLU layers count (padded rows sit at z = 0 and are no kinks).
    """
    p = _parameters(p)
    relu_layers = []  # (l, whether each network has a ReLU there: a bool, or one per network)
    for l, activation in enumerate(p.activations, start=1):
        relu = _kinked(activation)
        if p.in_front_at(l) is not None:
            relu = relu & ~p.in_front_at(l)
        if np.any(relu):
            relu_layers.append((l, relu))
    if not relu_layers:
        return []
    zs, _, _, M = forward or forward_pass(p)
    eps = unit_roundoff(p.X.dtype)
    widths, _, front = _sizes(p)
    before = np.cumsum(widths, axis=-1) - np.expand_dims(front * widths[..., 0], -1)  # Σ widths[:l] at l - 1
    found = []
    for l, relu in relu_layers:
        K = _per_network(p, before[..., l - 1] + (l - front))
        on = np.abs(zs[l]) <= KINK_ROUNDING * eps * K * M[l]
        if p.padding is not None:
            on &= p.padding.cells[l] & relu[:, None, None]
        found.append((l, on))
    return found


KINKED_LOSS_CODES = [LOSSES.index(name) for name in operations.KINKED_LOSSES]


def _loss_kink(name: str, a, A, y, bound, floor, real):
    kink = operations.loss(name).kink
    return np.zeros(a.shape, bool) if kink is None else kink(a, A, y, bound, floor, real)


def loss_kink_cells(p, forward: Forward | None = None) -> np.ndarray | None:
    """The cells of a[L] whose dC/da[L] depends on the subgradient a kinked loss takes (mae at a = y, the hinge at
    a margin of 0), boolean (N, n_L), a stack's with the network axis first; None when no network's loss has a kink.

    "On the kink" as for ReLU (kink_cells): within KINK_ROUNDING·ε·K of it on the scale of the terms, A[L]
    (forward_magnitudes) and |y|, K the widths summed over every layer plus L: then which side a framework's
    rounding puts a[L] on decides the derivative (seen: sigmoid outputs saturated to 1.0 against binary
    targets, float32 tanh/sigmoid outputs a margin of exactly 0 from each other), or within the dtype's tiny (a
    subnormal float32 σ(z) against y = 0: XLA flushes it to 0, where jax's |x|' is 1 and torch's 0)."""
    p = _parameters(p)
    kinked = np.isin(p.loss, KINKED_LOSS_CODES) if isinstance(p.loss, np.ndarray) else p.loss in operations.KINKED_LOSSES
    if not np.any(kinked):
        return None
    zs, acts, A, _ = forward or forward_pass(p)
    L = len(p.Ws)
    widths, _, front = _sizes(p)
    K = widths.sum(axis=-1) - front * widths[..., 0] + (L - front)
    bound = _per_network(p, KINK_ROUNDING * unit_roundoff(p.X.dtype) * K)
    real = None if p.padding is None else p.padding.cells[L]
    floor = float(np.finfo(p.X.dtype).tiny)  # a[L] below it may be flushed to 0 (XLA; seen: float32 σ(-91))
    on = _each(p.loss, LOSSES, _loss_kink, acts[L], A[L], p.Y.astype(np.float64), bound, floor, real)
    if p.padding is not None:
        on &= real & np.reshape(kinked, (-1, 1, 1))
    return on


def on_a_kink(p, forward: Forward | None = None):
    """Whether a ReLU unit is on its kink (kink_cells), or an output on its loss's (loss_kink_cells): a bool, or
    one per network of a stack."""
    p = _parameters(p)
    found = np.zeros(len(p.X), bool) if p.X.ndim > 2 else np.False_
    for _, on in kink_cells(p, forward):
        found = found | on.any(axis=(-2, -1))
    loss_on = loss_kink_cells(p, forward)
    if loss_on is not None:
        found = found | loss_on.any(axis=(-2, -1))
    return found


def tolerance_for(scale: tuple, value: np.ndarray) -> np.ndarray:
    """Entrywise tol = SAFETY·ε·(K_sum + K_chain)·(B + |g|·(1 + Z) + τ/ε), for an oracle value g
    in the canonical layout.

    τ is the dtype's smallest normal number: below it XLA on the CPU flushes to zero where torch keeps a
    subnormal (3e-45 against 0 in float32), so no entry is held to better than τ absolutely. A flushed
    intermediate δ is also multiplied by activations before it reaches dW: error_scales carries τ/ε through
    the absolute-value pass (soak evidence: a float32 dW entry of -3.1e-36 = Σ subnormal δ · a, which jax
    returns as 0, failed at 1.8x the old tolerance, twice in 100,005 checks; see the module docstring).
    An entry whose tolerance is still infinite is one whose value the network does not determine in
    float64: dC/da[L] of a cross-entropy at an output probability that underflowed (the oracles return
    -y/(N·tiny) there). The soak counts such entries (soak_entries_with_infinite_tolerance).
    """
    if isinstance(scale, StepScale):
        return step_tolerance(scale, value, tolerance_for)
    coefficient, B, amplification, floor = scale
    with np.errstate(over="ignore"):  # the coefficient first: B alone may be near the float64 limit
        relative = np.abs(value.astype(np.float64, copy=False))
        relative *= coefficient * amplification
        tol = coefficient * B
        tol += relative  # (a sum and products in place: the same roundings as the expression, fewer arrays)
        tol += coefficient * floor
        return tol


def stacked_tolerance_for(scale: tuple, values: np.ndarray) -> np.ndarray:
    """tolerance_for over a stack (the network axis first): each network's own K and Z, which tolerances()
    gives one per network where they differ, over its entries."""
    if isinstance(scale, StepScale):
        return step_tolerance(scale, values, stacked_tolerance_for)
    coefficient, B, amplification, floor = scale
    expand = (-1,) + (1,) * (values.ndim - 1)
    return tolerance_for((np.reshape(coefficient, expand), B, np.reshape(amplification, expand), floor), values)


def relative_tolerance(tol: np.ndarray, value: np.ndarray) -> np.ndarray:
    """tol / |g| entry by entry, inf where it is not finite (g = 0, or an infinite tolerance): the smallest
    relative error ε of a ×(1 + ε) mistake that entry would show."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        relative = np.asarray(tol, np.float64) / np.abs(np.asarray(value, np.float64))
    return np.where(np.isfinite(relative), relative, np.inf)


def detects(tol: np.ndarray, value: np.ndarray) -> float:
    """The smallest relative error ε of a ×(1 + ε) mistake of `value` that a check with tolerance `tol` would
    detect: min over entries of tol / |g| (inf when no entry can show one). At 1 or more, zeros and ×2 pass:
    the check is vacuous."""
    relative = relative_tolerance(tol, value)
    return float(relative.min()) if relative.size else float("inf")


# ---- local Jacobians (model/quantity.py: per sample (out, in), with a batch (N, out, in)) --------------------
# Short chains: no backward sum feeds them. da[l]/dz[l] is g'(z[l]) (the softmax's s_i(δ_ij - s_j)), whose
# error is its own rounding, on the scale of |g'| with its subtraction made an addition (the row's magnitude),
# plus the move of g' under z's forward error ε·K·M[l] (|g''|·M, as _moved_slope); dz[l]/da[l-1] is W[l] read
# back (exact in both oracles); dz[l]/dW[l] is a[l-1], known to its forward error, A[l-1]; da[l]/dW[l] and
# da[l+1]/da[l] are products of those, whose errors add as B_g'·A and B_g'·|W| (each B bounds its value too).
# The count: the forward sums feeding the entry (Σ widths[:l] terms for z[l]) and 4 elementwise steps a
# layer plus one (a formula may round once more: a cast, a product), times SAFETY as everywhere.

def _derivative_scale(name: str, z: np.ndarray, a: np.ndarray, A: np.ndarray, M: np.ndarray, floor: float) -> np.ndarray:
    """B of da/dz at one layer, (N, n, n): the diagonal |g'|'s scale plus g''·M; for a coupled row (softmax)
    J = diag(s) - s sᵀ with each s known to A (forward_magnitudes), B_ij = A_i (δ_ij + A_j). floor (τ/ε) is added to
    each factor that may be flushed to zero where it is subnormal (XLA: a float32 softmax s_j of 9.9e-39 is 0 in jax),
    so that a product carries the flush on the scale of the other factor."""
    row = operations.activation(name)
    eye = np.eye(z.shape[-1])
    if row.coupled:
        return (A[..., :, None] + floor) * (eye + A[..., None, :] + floor)
    diagonal = _magnitude_prime(name, z, a) + _moved_slope(name, z, a, M, floor)
    return diagonal[..., :, None] * eye


def _along_rows(B: np.ndarray, below: np.ndarray) -> np.ndarray:
    """B of a reduced ∂out_i/∂W_ik (N, out, in) from B of ∂out_i/∂z_i (N, out) and A of a[l-1] (N, in)."""
    return B[..., :, None] * below[..., None, :]


def jacobian_scales(p, floor: float = 0.0, forward: Forward | None = None) -> dict[str, np.ndarray]:
    """B of every local Jacobian of one network (quantity.jacobian_names), canonical (N, out, in), float64.

    floor (τ/ε): the flush-to-zero error of a subnormal factor, carried through the products as error_scales
    carries it (soak evidence: float32, a saturated softmax output with s_j = 9.9e-39 subnormal, flushed to 0 by
    XLA and kept by torch, times W[2] of ~125: da[2]/da[1] 1.24e-36 against 0, 1.55x the tolerance without it)."""
    p = _parameters(p)
    zs, acts, A, M = forward or forward_pass(p)
    N, B = p.batch, {}
    for l, ((absW, _), activation) in enumerate(zip(p.magnitudes, p.activations), start=1):
        derivative = _derivative_scale(activation, zs[l], acts[l], A[l], M[l], floor)
        B[str(Quantity.of("da/dz", l))] = derivative
        B[str(Quantity.of("dz/da", l))] = np.broadcast_to(absW, (N,) + absW.shape)
        B[str(Quantity.of("dz/dW", l))] = np.broadcast_to(A[l - 1][:, None, :], (N,) + absW.shape)
        B[str(Quantity.of("da/dW", l))] = _along_rows(np.diagonal(derivative, axis1=-2, axis2=-1), A[l - 1] + floor)
        if l >= 2:
            B[str(Quantity.of("da/da", l - 1))] = derivative @ absW
    return B


def jacobian_sum_lengths(p) -> dict[str, tuple]:
    """(K_sum, K_chain) of every local Jacobian: the forward sums feeding its entries and its elementwise steps
    (see above); a softmax's da[l+1]/da[l] adds its product's sum over the output units."""
    p = _parameters(p)
    widths, K = p.widths, {}
    for l, activation in enumerate(p.activations, start=1):
        to_z = (float(sum(widths[:l])), 4.0 * l + 1)  # z[l], and everything made of it
        K[str(Quantity.of("da/dz", l))] = K[str(Quantity.of("da/dW", l))] = to_z
        K[str(Quantity.of("dz/da", l))] = (0.0, 1.0)
        K[str(Quantity.of("dz/dW", l))] = (float(sum(widths[:l - 1])), 4.0 * (l - 1) + 1)
        if l >= 2:
            coupled = operations.activation(activation).coupled
            K[str(Quantity.of("da/da", l - 1))] = (to_z[0] + (widths[l] if coupled else 0), to_z[1] + 1)
    return K


def jacobian_tolerances(p, dtype=None, forward: Forward | None = None) -> dict[str, tuple]:
    """tolerances() for the local Jacobians of one network (not a stack: Jacobians are judged one network at a
    time, never padded): (SAFETY·ε·(K_sum + K_chain), B, 1 + Z, τ/ε) per Jacobian, as for every quantity."""
    p = _parameters(p)
    dtype = dtype or p.X.dtype
    eps = unit_roundoff(dtype)
    floor = float(np.finfo(dtype).tiny) / eps
    forward = forward or forward_pass(p)
    B, K = jacobian_scales(p, floor, forward), jacobian_sum_lengths(p)
    amplification = 1 + largest_preactivation(p, forward)
    return {name: (eps * rounding_growth(*K[name]), B[name], amplification, floor) for name in B}
