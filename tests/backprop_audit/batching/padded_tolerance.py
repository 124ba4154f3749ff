"""The tolerance model and the ReLU-kink test for a padded stack of networks (padded.py), in one pass.

The definition is the per-network model in tolerance.py (`tolerances`, and evaluate.kinks for the
kinks); this module computes exactly that for a whole stack at once, and shares its activation- and
loss-specific steps with it (tolerance._activate, _carried, _magnitude_prime, _output_scales). What
the stack adds, and only this:

- padding is made inert by masks: z, a, A and every B are set to 0 outside the real units and rows
  (a padded row has z = b and a = g(b), e.g. σ(b) ≠ 0; a padded unit would have σ(0) = 1/2), so no
  batch sum (B of C, dW, db), no maximum (Z) and no softmax sees them; the softmax runs over the
  real units only (padded units get probability 0);
- the identity layers in front are exact (a = a @ I + 0 exactly): A passes through them unchanged and
  they do not count in Z or K, so the real layers get what they get alone;
- activations and losses are per-network codes: each step runs once per code present, on the networks
  that have it (`_by_code`), never by branching on one network's names;
- K, the batch N and the output width come from each network's true sizes, not the padded ones.

Results are keyed by stack quantity names with the network axis first; stack.take reads one
real network's quantity back out.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from backprop_audit.judging import tolerance
from backprop_audit.judging.evaluate import KINK_ROUNDING
from backprop_audit.model import operations
from backprop_audit.model.operations import ACTIVATIONS
from backprop_audit.model.quantity import layer_names
from backprop_audit.batching.padded import LOSS_NAMES, PaddedStack

KINKED = [ACTIVATIONS.index(name) for name in operations.KINKED_ACTIVATIONS]  # codes of the activations with a kink


def _by_code(codes: np.ndarray, names, step, *arrays) -> np.ndarray:
    """step(names[c], *arrays restricted to the networks with code c), for every code c present,
    assembled along the network axis: each network gets its own activation's or loss's step.
    A step may return a tuple of arrays: then a tuple of assembled arrays."""
    if np.all(codes == codes[0]):  # one code for the whole stack: no subsets to copy
        return step(names[codes[0]], *arrays)
    out = None
    for code in np.unique(codes):
        rows = np.flatnonzero(codes == code)
        value = step(names[code], *(x[rows] for x in arrays))
        parts = value if isinstance(value, tuple) else (value,)
        if out is None:
            out = tuple(np.empty((len(codes),) + part.shape[1:], part.dtype) for part in parts)
        for whole, part in zip(out, parts):
            whole[rows] = part
    return out if isinstance(value, tuple) else out[0]


def _cells(stack: PaddedStack) -> list:
    """Boolean (count, batch, width) per a[k], k = 0..depth: the real rows and units."""
    return [stack.row_mask[:, :, None] & units[:, None, :] for units in stack.unit_masks]


def _in_front(stack: PaddedStack, k: int) -> np.ndarray:
    """(count,) True where stack layer k is one of the identity layers prepended (not a real layer)."""
    return k <= stack.prepend


def _fit(x: np.ndarray, width: int) -> np.ndarray:
    """x cut or zero-padded along its last axis to `width` (stack layers have their own widths)."""
    if x.shape[-1] >= width:
        return x[..., :width]
    return np.concatenate([x, np.zeros(x.shape[:-1] + (width - x.shape[-1],))], axis=-1)


def _column(v: np.ndarray) -> np.ndarray:
    return v.reshape((-1, 1, 1))


class Forward(NamedTuple):
    """The forward pass of a stack in float64, (count, batch, width) per layer, 0 outside the real cells."""
    zs: list  # z[k], k = 1..depth (zs[0] is None), as tolerance._forward64
    acts: list  # a[k], k = 0..depth, as tolerance._forward64
    A: list  # A[k], k = 0..depth, as tolerance.forward_magnitudes; unchanged through the identity layers
    M: list  # M[k] = A[k-1] |W[k]|ᵀ + |b[k]|, k = 1..depth (M[0] is None): the magnitude of z's sum
    cells: list  # boolean, k = 0..depth: the real rows and units of a[k] (_cells)


def _activate(name, z, units):
    """tolerance._activate; the softmax over the real units only (exp(-inf) = 0 on padded units)."""
    return tolerance._activate(name, np.where(units, z, -np.inf) if operations.activation(name).coupled else z)


def padded_forward(stack: PaddedStack) -> Forward:
    """z, a (tolerance._forward64), A (tolerance.forward_magnitudes) and M for every network of the stack."""
    cells = _cells(stack)
    codes = stack.activation_codes
    zs, acts = [None], [stack.X.astype(np.float64)]  # padded inputs are 0
    A, Ms = [np.abs(acts[0])], [None]
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for k in range(1, stack.depth + 1):
            Wt, b = tolerance._transpose(stack.Ws[k - 1].astype(np.float64)), stack.bs[k - 1].astype(np.float64)
            z = np.where(cells[k], acts[-1] @ Wt + b[:, None, :], 0.0)  # padded rows would hold b
            units = np.broadcast_to(stack.unit_masks[k][:, None, :], z.shape)
            a = np.where(cells[k], _by_code(codes[:, k - 1], ACTIVATIONS, _activate, z, units), 0.0)
            M = A[-1] @ np.abs(Wt) + np.abs(b)[:, None, :]
            carried = np.where(cells[k], _by_code(codes[:, k - 1], ACTIVATIONS, tolerance._carried, z, a, M), 0.0)
            zs.append(z)
            acts.append(a)
            Ms.append(M)
            # identity in front: exact, A passes on (its real units, the input's, fit both layers' widths)
            A.append(np.where(_column(_in_front(stack, k)), _fit(A[-1], carried.shape[-1]), carried))
    return Forward(zs, acts, A, Ms, cells)


def padded_sum_lengths(stack: PaddedStack) -> dict[str, np.ndarray]:
    """tolerance.sum_lengths of every network, (count,) float64 per stack quantity, from its true
    widths, batch and depth (real layer l = k - prepend; entries of identity layers are not meaningful).

    sum_lengths: K(C) = N·n_L + L + 4; K(dC/da[l]) = K(dC/dz[l]) = Σ widths[l:] + 4(L - l + 1) + Σ widths[:l]
    = Σ widths + 4(L - l + 1), with L - l = depth - k; K(dC/dW[l]) = K(dC/db[l]) = that + N."""
    widths = np.stack([units.sum(axis=-1) for units in stack.unit_masks], axis=1)  # (count, depth + 1)
    p, N, depth = stack.prepend, stack.row_mask.sum(axis=-1), stack.depth
    total = widths.sum(axis=1) - p * widths[:, 0]  # the widths of a[0..L]: the identity layers repeat a[0]
    K = {"C": (N * widths[:, depth] + (depth - p) + 4).astype(np.float64)}
    for k in range(1, depth + 1):
        backward = total + (depth - k + 1) * 4
        names = layer_names(k)
        K[names.a] = K[names.z] = backward.astype(np.float64)
        K[names.W] = K[names.b] = (backward + N).astype(np.float64)
    return K


def padded_error_scales(stack: PaddedStack, floor: float, forward=None) -> dict[str, np.ndarray]:
    """tolerance.error_scales for every network of the stack: B per stack quantity, (count, ...) float64,
    0 outside the real cells (the floor is added to B_z on real cells only, so db sums N floors, not the padded batch)."""
    zs, acts, A, _, cells = forward or padded_forward(stack)
    y = np.abs(stack.Y.astype(np.float64))  # padded targets are 0
    N = stack.row_mask.sum(axis=-1)  # the true batch, an integer as in tolerance (n_true may be float32)
    depth = stack.depth
    n_out = stack.unit_masks[depth].sum(axis=-1)
    output = stack.loss_codes * len(ACTIVATIONS) + stack.activation_codes[:, -1]  # one code per (loss, output)
    pairs = [(loss, activation) for loss in LOSS_NAMES for activation in ACTIVATIONS]

    def output_scales(pair, z, a, A_L, y, N, n_out, cells):  # the networks with this (loss, output)
        total = lambda terms: np.sum(np.where(cells, terms, 0.0), axis=(-2, -1), keepdims=True)
        return tolerance._output_scales(*pair, z, a, A_L, y, N, n_out, total)

    B = {}
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        B_C, B_a, B_z = _by_code(output, pairs, output_scales, zs[depth], acts[depth], A[depth], y,
                                 _column(N), _column(n_out), cells[depth])
        B["C"] = B_C[:, 0, 0]
        for k in range(depth, 0, -1):
            if k < depth:
                B_a = B_z_next @ np.abs(stack.Ws[k].astype(np.float64))  # stack.Ws[k] is W[k+1]
                B_z = B_a * _by_code(stack.activation_codes[:, k - 1], ACTIVATIONS, tolerance._magnitude_prime,
                                     zs[k], acts[k])
            names = layer_names(k)
            B[names.a] = B_a = np.where(cells[k], B_a, 0.0)
            B_z = np.where(cells[k], B_z + floor, 0.0)
            B[names.z] = B_z
            B[names.W] = tolerance._transpose(B_z) @ A[k - 1]
            B[names.b] = B_z.sum(axis=-2)
            B_z_next = B_z
    return B


def padded_largest_preactivation(stack: PaddedStack, forward=None) -> np.ndarray:
    """tolerance.largest_preactivation of every network, (count,): the maximum over its real layers
    and real cells only (an identity layer in front would add max |X|, which the network alone lacks)."""
    forward = forward or padded_forward(stack)
    acts, cells = forward.acts, forward.cells
    Z = np.zeros(stack.count)
    for k in range(1, stack.depth + 1):
        W, b = stack.Ws[k - 1].astype(np.float64), stack.bs[k - 1].astype(np.float64)
        magnitude = np.abs(acts[k - 1]) @ np.abs(tolerance._transpose(W)) + np.abs(b)[:, None, :]
        largest = np.where(cells[k], magnitude, 0.0).max(axis=(-2, -1))
        Z = np.where(_in_front(stack, k), Z, np.maximum(Z, largest))
    return Z


def padded_tolerances(stack: PaddedStack, forward=None) -> dict[str, tuple]:
    """tolerance.tolerances for every network of the stack: {stack quantity: (SAFETY·ε·K (count,),
    B (count, ...), 1 + Z (count,), τ/ε)}; stack.take(B, g, q) is tolerance.tolerances(net)[q]'s B."""
    eps = tolerance.unit_roundoff(stack.dtype)
    floor = float(np.finfo(stack.dtype).tiny) / eps
    forward = forward or padded_forward(stack)
    B, K = padded_error_scales(stack, floor, forward), padded_sum_lengths(stack)
    amplification = 1 + padded_largest_preactivation(stack, forward)
    return {name: (tolerance.SAFETY * eps * K[name], B[name], amplification, floor) for name in B}


def padded_kinks(stack: PaddedStack, forward=None) -> np.ndarray:
    """(count,) bool: bool(evaluate.kinks(net)) for every real network: a unit with a kinked activation
    (relu) of a real layer with |z| <= KINK_ROUNDING·ε·K·M, M = Σ_k A_k |W_jk| + |b_j|, K = Σ widths[:l] + l."""
    zs, _, _, Ms, cells = forward or padded_forward(stack)
    eps = tolerance.unit_roundoff(stack.dtype)
    widths = np.stack([units.sum(axis=-1) for units in stack.unit_masks], axis=1)
    before = np.cumsum(widths, axis=1) - (stack.prepend * widths[:, 0])[:, None]  # Σ real widths[:l] at index k - 1
    found = np.zeros(stack.count, bool)
    for k in range(1, stack.depth + 1):
        kinked = np.isin(stack.activation_codes[:, k - 1], KINKED) & ~_in_front(stack, k)
        if not kinked.any():
            continue
        K = before[:, k - 1] + (k - stack.prepend)
        on = (np.abs(zs[k]) <= KINK_ROUNDING * eps * _column(K) * Ms[k]) & cells[k]
        found |= kinked & on.any(axis=(-2, -1))
    return found
