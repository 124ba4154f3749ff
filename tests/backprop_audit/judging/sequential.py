"""A sample of the worst ordinary rounding of a network: backpropagation, correct, with every long sum
accumulated one term after the other.

The measured count (tolerance.measured_growth) sizes a float32 tolerance from how far computations of the
true gradient in float32 fall from it on this network. torch and jax sum in blocks and trees, whose error
grows like √log n for n same-signed terms; a formula summing over the batch with `delta.sum(axis=0)`
(NumPy accumulates along a non-contiguous axis row after row) or a Python loop accumulates term by term,
whose error grows like √n: on medium networks (batch 64-256) a correct dC/db in the row convention erred by
up to 7x the oracles' worst entry (float32), and in float64 a correct dC/db failed at 1.02x the tolerance of
the torch-jax sample alone (soak seed 1, "tiny-medium", batch 244). So the samples include this one: the manual forward pass every formula
sees (model/convention.view_of), the output step of trust/backprop.py, and the three long sums of the
backward pass, δ[l+1] W[l+1]ᵀ (over the units above), δ[l]ᵀ a[l-1] and Σ_n δ[l] (over the batch), in
the network's dtype, term by term (δᵀ a in BLAS's order beyond TERM_BY_TERM_LARGEST products, where the
Python loop would cost seconds; there the sample misses the term-by-term order of dW only), plus λ·W[l] where the network has an L2 term. Quantities in the canonical layout
(network.py). C and the step quantities W'[l], b'[l] are left to the oracles' samples.
"""
from __future__ import annotations

import numpy as np

from backprop_audit.model.convention import view_of
from backprop_audit.model.operations import activation
from backprop_audit.model.quantity import layer_names
from backprop_audit.trust import backprop


TERM_BY_TERM_LARGEST = 20_000_000  # products δ[l]ᵀ a[l-1] summed term by term at most (N·n_l·n_{l-1})


def term_by_term(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A @ B with the sum over the inner axis accumulated one term at a time, in A's dtype."""
    out = np.zeros((A.shape[0], B.shape[1]), dtype=A.dtype)
    for k in range(A.shape[1]):
        out += A[:, k:k + 1] * B[k:k + 1, :]
    return out


def summed_rows(M: np.ndarray) -> np.ndarray:
    """Σ over the rows (the batch) of M, one row at a time."""
    out = M[0].copy()
    for row in M[1:]:
        out += row
    return out


def quantities(net) -> dict[str, np.ndarray]:
    """dC/da[l], dC/dz[l], dC/dW[l], dC/db[l] of `net` (canonical layout, net's dtype), each long sum term by term."""
    with np.errstate(all="ignore"):
        v = view_of(net, "row")  # W[l] is (in, out) there: z = a @ W + b
        found = {}
        names = layer_names(net.depth)
        found[names.a] = backprop.output_activation_gradient(v)
        delta = backprop.output_delta(v)
        for l in range(net.depth, 0, -1):
            names = layer_names(l)
            if l < net.depth:
                found[names.a] = gradient = term_by_term(delta, v.W[l + 1].T)
                delta = activation(v.activation[l]).backward(v.z[l], v.a[l], gradient)
            found[names.z] = delta
            # (beyond TERM_BY_TERM_LARGEST products, BLAS's order: [256, 4096, 10]/1024 would take seconds)
            dW_sum = term_by_term if delta.size * v.a[l - 1].shape[1] <= TERM_BY_TERM_LARGEST else np.matmul
            found[names.W] = dW_sum(delta.T, v.a[l - 1])
            if net.l2:  # C's (λ/2) Σ ‖W‖² term: + λ W[l] (canonical (out, in))
                found[names.W] += np.asarray(net.l2, net.dtype) * net.layers[l - 1].W
            found[names.b] = summed_rows(delta)
    return found
