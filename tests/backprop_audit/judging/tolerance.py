"""Tolerances: from the dtype and the size of the sums involved, entry by entry.

A computed gradient ĝ differs from the exact g by rounding only. The classical bound for a sum of n
terms is |fl(Σ t) - Σ t| <= n·ε·Σ|t|: the error scales with the *absolute values of the terms*, not
with the result, which can be far smaller when terms cancel (a - y with a ≈ y, 1 - tanh² z near
saturation, p - y for a confident softmax). So for every quantity we run the backward pass once more
in magnitudes ("the absolute-value backward pass"): every subtraction becomes an addition, every
matrix its entrywise absolute value. That gives B, the scale the rounding error lives on, entry by
entry. The tolerance of entry i is

    tol_i = SAFETY · ε · K · (B_i + |g_i| · (1 + Z))

- ε is the unit roundoff of the dtype the check ran in (2^-53 for float64, 2^-24 for float32);
- K counts the operations that feed the entry: the widths summed over from the output back to its
  layer, the batch N summed over for W and b, and the depth (each layer adds an elementwise step);
- Z is the largest pre-activation magnitude Σ_k |W_jk||a_k| + |b_j| over the network: the forward pass
  computes z with an absolute error of about ε·Z, and exp (inside sigmoid, tanh, softmax) turns an
  absolute error in z into the same relative error in a and in g'(z) - e.g. a saturated sigmoid with
  z ≈ -70 has a ≈ e^-70 known only to a relative 70·ε. So |g| is scaled by (1 + Z);
- SAFETY = 4 covers the few elementwise roundings per step (the n·ε bound is itself pessimistic).

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

This file is the definition. padded_tolerance.py computes the same model for a padded stack of
different networks (padded.py) at once, calling the activation- and loss-specific steps below
(_activate, _carried, _magnitude_prime, _output_scales) per activation and loss code.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backprop_audit.model import operations
from backprop_audit.model.quantity import layer_names

SAFETY = 4.0


def unit_roundoff(dtype) -> float:
    return float(np.finfo(dtype).eps) / 2


# The activation- and loss-specific steps of the model, one function of arrays each, so that the
# per-network code below and the padded stack (padded_tolerance.py, which picks them by per-network
# codes) share one definition. Their facts are rows of the operation table (model/operations.py).

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


@dataclass(frozen=True)
class Parameters:
    """The arrays the tolerance model reads, for one network or for a stack of networks of one
    architecture (every array then has a leading network axis; the code below is written for both:
    transposes swap the last two axes, sums over the batch run over axis -2)."""

    Ws: list
    bs: list
    activations: tuple
    loss: str
    X: np.ndarray
    Y: np.ndarray

    @classmethod
    def of(cls, net) -> "Parameters":
        return cls([l.W for l in net.layers], [l.b for l in net.layers],
                   tuple(l.activation for l in net.layers), net.loss, net.X, net.Y)

    @property
    def widths(self) -> tuple:
        return (self.X.shape[-1],) + tuple(W.shape[-2] for W in self.Ws)

    @property
    def batch(self) -> int:
        return self.X.shape[-2]


def _transpose(M):
    return np.swapaxes(M, -1, -2)


def _forward64(p):
    """z[l], a[l] in float64 (p: a Network or Parameters)."""
    p = p if isinstance(p, Parameters) else Parameters.of(p)
    zs, acts = [None], [p.X.astype(np.float64)]
    with np.errstate(over="ignore", under="ignore"):
        for W, b, activation in zip(p.Ws, p.bs, p.activations):
            z = acts[-1] @ _transpose(W.astype(np.float64)) + b.astype(np.float64)[..., None, :]
            zs.append(z)
            acts.append(_activate(activation, z))
    return zs, acts


def forward_magnitudes(p, zs, acts) -> list:
    """A[l], the scale of a[l]'s absolute rounding error (l = 0..L), from the absolute-value forward pass.

    z[l] = a[l-1] W[l]ᵀ + b[l] is a sum: its absolute error is about ε·K·M[l] with M[l] = A[l-1] |W[l]|ᵀ + |b[l]|
    (A[l-1] also carries the error a[l-1] already has). a = g(z) passes it on as |g'(z)|·M; so
    A[l] = |a[l]| + |g'(z[l])|·M[l]. For the softmax, ds_j = s_j((1 - s_j) dz_j - Σ_{k≠j} s_k dz_k), so
    A = s·(1 + (1 - s)·M + Σ_{k≠j} s_k M_k). Where the sum cancels (|z| ≪ M) A ≫ |a|: that is the case
    the soak found (see the module docstring).
    """
    p = p if isinstance(p, Parameters) else Parameters.of(p)
    A = [np.abs(acts[0])]
    with np.errstate(over="ignore", invalid="ignore"):
        for l, (W, b, activation) in enumerate(zip(p.Ws, p.bs, p.activations), start=1):
            M = A[-1] @ np.abs(_transpose(W.astype(np.float64))) + np.abs(b.astype(np.float64))[..., None, :]
            A.append(_carried(activation, zs[l], acts[l], M))
    return A


def _output_scales(loss: str, output: str, z, a, A, y, N, n_out, total) -> tuple:
    """B of C, of dC/da[L] and of dC/dz[L] (before the floor) at the output layer: the loss-specific
    start of error_scales. z, a: z[L], a[L]; A: A[L] (forward_magnitudes); y: |Y|; N, n_out: the batch
    and the output width (numbers, or arrays that broadcast against the batch and unit axes);
    total(terms): the sum of terms over the batch and unit axes of each network."""
    row = operations.loss(loss)
    if row.factor is not None:
        factor = row.factor(N)
        B_a = factor * (A + y)
        B_C = np.asarray(factor * total((A + y) ** 2))
        return B_C, B_a, operations.activation(output).output_magnitude(z, a, A, B_a)
    s, tiny = np.abs(a), np.finfo(np.float64).tiny
    carried = A - s  # the error s already carries from the forward sums (forward_magnitudes)
    # 1/s: its relative error is s's, rounding plus carried / s.
    inverse = lambda q: (1 / np.maximum(q, tiny)) * (1 + carried / np.maximum(q, tiny))
    B_a, B_z = row.cross_entropy_scales(s, A, y, N, inverse)
    B_C = np.asarray(total((y + 1) * (np.abs(z) + np.log(np.maximum(n_out, 2)) + 1)) / N)
    return B_C, B_a, B_z


def error_scales(p, floor: float = 0.0, forward=None) -> dict[str, np.ndarray]:
    """B for every quantity, canonical layout, float64 (see the module docstring); p: a Network or
    Parameters (a stack gives every B a leading network axis).

    floor (τ/ε): the flush-to-zero error of one intermediate δ entry (see tolerance_for), added to every
    B_z before it is summed into dW, db and the layer below, so a flushed subnormal δ is carried through
    the same absolute-value pass as any other error.
    """
    p = p if isinstance(p, Parameters) else Parameters.of(p)
    zs, acts = forward or _forward64(p)
    A = forward_magnitudes(p, zs, acts)
    L = len(p.Ws)
    y = np.abs(p.Y.astype(np.float64))
    both = (-2, -1)  # the batch and unit axes of one network
    B = {}
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        B["C"], B_a, B_z = _output_scales(p.loss, p.activations[-1], zs[L], acts[L], A[L], y, p.batch,
                                          p.widths[-1], lambda terms: np.sum(terms, axis=both))
        for l in range(L, 0, -1):
            if l < L:
                B_a = B_z_next @ np.abs(p.Ws[l].astype(np.float64))  # p.Ws[l] is W[l+1]
                B_z = B_a * _magnitude_prime(p.activations[l - 1], zs[l], acts[l])
            names = layer_names(l)
            B[names.a] = B_a
            B_z = B_z + floor
            B[names.z] = B_z
            B[names.W] = _transpose(B_z) @ A[l - 1]
            B[names.b] = B_z.sum(axis=-2)
            B_z_next = B_z
    return B


def sum_lengths(p) -> dict[str, float]:
    """K for every quantity: operations feeding an entry (widths from the output back, N, depth)."""
    p = p if isinstance(p, Parameters) else Parameters.of(p)
    widths, N, L = p.widths, p.batch, len(p.Ws)
    K = {"C": float(N * widths[-1] + L + 4)}
    for l in range(1, L + 1):
        backward = sum(widths[l:]) + (L - l + 1) * 4 + sum(widths[:l])  # forward sums feed z[l] too
        names = layer_names(l)
        K[names.a] = K[names.z] = float(backward)
        K[names.W] = K[names.b] = float(backward + N)
    return K


def largest_preactivation(p, forward=None):
    """Z = max over layers and units of Σ_k |W_jk||a_k| + |b_j|: how large the forward sums get
    (a number for one network, one per network for a stack)."""
    p = p if isinstance(p, Parameters) else Parameters.of(p)
    acts = (forward or _forward64(p))[1]
    Z = 0.0
    for l, (W, b) in enumerate(zip(p.Ws, p.bs), start=1):
        magnitude = np.abs(acts[l - 1]) @ np.abs(_transpose(W.astype(np.float64))) + np.abs(b.astype(np.float64))[..., None, :]
        Z = np.maximum(Z, magnitude.max(axis=(-2, -1)))
    return Z


def tolerances(p, dtype=None) -> dict[str, tuple]:
    """For every quantity the pieces of its tolerance: (SAFETY·ε·K, B, 1 + Z, τ/ε).

    p: a Network, or Parameters of a stack of networks (the sweep): then B and Z have a leading network axis."""
    p = p if isinstance(p, Parameters) else Parameters.of(p)
    dtype = dtype or p.X.dtype
    eps = unit_roundoff(dtype)
    floor = float(np.finfo(dtype).tiny) / eps
    forward = _forward64(p)  # once, for both B and Z (the costly part on wide networks)
    B, K = error_scales(p, floor, forward), sum_lengths(p)
    amplification = 1 + largest_preactivation(p, forward)
    return {name: (SAFETY * eps * K[name], B[name], amplification, floor) for name in B}


def tolerance_for(scale: tuple, value: np.ndarray) -> np.ndarray:
    """Entrywise tol = SAFETY·ε·K·(B + |g|·(1 + Z) + τ/ε), for an oracle value g in the canonical layout.

    τ is the dtype's smallest normal number: below it XLA on the CPU flushes to zero where torch keeps a
    subnormal (3e-45 against 0 in float32), so no entry is held to better than τ absolutely. A flushed
    intermediate δ is also multiplied by activations before it reaches dW: error_scales carries τ/ε through
    the absolute-value pass (soak evidence: a float32 dW entry of -3.1e-36 = Σ subnormal δ · a, which jax
    returns as 0, failed at 1.8x the old tolerance, twice in 100,005 checks; see the module docstring).
    An entry whose tolerance is still infinite is one whose value the network does not determine in
    float64: dC/da[L] of a cross-entropy at an output probability that underflowed (the oracles return
    -y/(N·tiny) there). The soak counts such entries (soak_entries_with_infinite_tolerance).
    """
    coefficient, B, amplification, floor = scale
    with np.errstate(over="ignore"):  # the coefficient first: B alone may be near the float64 limit
        return coefficient * B + (coefficient * amplification) * np.abs(value.astype(np.float64)) + coefficient * floor
