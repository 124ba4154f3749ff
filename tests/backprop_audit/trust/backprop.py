"""Backpropagation written out once, correct for every activation and loss of the operation table.

These are the formulas known to hold on every network, whatever its activations and loss: the benchmark
and the sweep check dC/dW[l] (bench_formulas.py), the soak checks every quantity in both conventions
(soak.py). They are written in NumPy from the definitions (network.py) and the table's NumPy forms
(model/operations.py), on a formula's view (model/convention.py):

- row convention: X (N, n0), W[l] (in, out), z = a @ W + b, z[l] and a[l] (N, n_l);
- column convention: x (n0, N), W[l] (out, in), z[l] and a[l] (n_l, N).

Only the last two axes are the batch and the units, so a stack of networks of one architecture (a
leading network axis, the sweep) runs the same code.
"""
from __future__ import annotations

import numpy as np

from backprop_audit.model import operations
from backprop_audit.model.operations import activation, loss

ROW, COLUMN = (-2, -1), (-1, -2)  # (batch axis, units axis) of z, a and y in each convention


def _transpose(M):
    return np.swapaxes(M, -1, -2)


def loss_value(n):
    """C (row convention)."""
    return loss(n.loss).numpy(n.z[n.L], n.a[n.L], n.y, n.a[n.L].shape[-2])


def output_activation_gradient(n, axes=ROW):
    """dC/da[L]; the table's form is written for the row layout (the hinge's sum over the units), so the column
    convention's a and y are read transposed and the result transposed back."""
    a, y = n.a[n.L], n.y
    if axes == COLUMN:
        return _transpose(loss(n.loss).numpy_gradient(_transpose(a), _transpose(y), a.shape[axes[0]]))
    return loss(n.loss).numpy_gradient(a, y, a.shape[axes[0]])


def output_delta(n, axes=ROW):
    """dC/dz[L]: from the logits for a loss fused with its output activation (the cross-entropies),
    otherwise dC/da[L] through the output activation (⊙ g'(z), or the softmax's Jacobian)."""
    a, batch, units = n.a[n.L], *axes
    row = loss(n.loss)
    if row.numpy_logit_gradient is not None:
        return row.numpy_logit_gradient(a, n.y, a.shape[batch], units)
    return activation(n.activation[n.L]).backward(n.z[n.L], a, output_activation_gradient(n, axes), units)


def deltas(n) -> dict:
    """δ[l] = dC/dz[l] for l = 1..L, row convention: δ[l] = δ[l+1] W[l+1]ᵀ ⊙ g'(z[l])."""
    delta = {n.L: output_delta(n)}
    for l in range(n.L - 1, 0, -1):
        delta[l] = activation(n.activation[l]).backward(n.z[l], n.a[l], delta[l + 1] @ _transpose(n.W[l + 1]))
    return delta


def column_deltas(n) -> dict:
    """δ in the column convention, written directly: δ[l] = W[l+1]ᵀ δ[l+1] ⊙ g'(z[l])."""
    delta = {n.L: output_delta(n, COLUMN)}
    for l in range(n.L - 1, 0, -1):
        delta[l] = activation(n.activation[l]).backward(n.z[l], n.a[l], _transpose(n.W[l + 1]) @ delta[l + 1],
                                                        COLUMN[1])
    return delta


def activation_gradient(n, l):
    """dC/da[l] (row convention): dC/da[L] at the output, δ[l+1] W[l+1]ᵀ below it."""
    return output_activation_gradient(n) if l == n.L else deltas(n)[l + 1] @ _transpose(n.W[l + 1])


def weight_gradient(n, l):
    """dC/dW[l] = a[l-1]ᵀ δ[l] (row convention, W of shape (in, out))."""
    return _transpose(n.a[l - 1]) @ deltas(n)[l]


# ---- the local Jacobians (model/quantity.py), row convention: per sample (out, in), stacked over the batch;
# with respect to W, W's (in, out) layout per sample ------------------------------------------------------

def activation_jacobian(n, l):
    """da[l]/dz[l]: diag(g'(z[l])) per sample, or the softmax's diag(s) - s sᵀ, (N, n_l, n_l)."""
    row = operations.activation(n.activation[l])
    if row.coupled:
        s = n.a[l]
        return s[:, :, None] * np.eye(s.shape[-1], dtype=s.dtype) - s[:, :, None] * s[:, None, :]
    g = row.numpy_prime(n.z[l])
    return g[:, :, None] * np.eye(g.shape[-1], dtype=g.dtype)


def layer_jacobian(n, l):
    """da[l+1]/da[l] = da[l+1]/dz[l+1] · W[l+1]ᵀ (W is (in, out) here), (N, n_{l+1}, n_l)."""
    return activation_jacobian(n, l + 1) @ n.W[l + 1].T


def weight_jacobian(n, l):
    """dz[l]/dW[l]: a[l-1]_k at [n, k, i] for every unit i, (N, n_{l-1}, n_l)."""
    return np.repeat(n.a[l - 1][:, :, None], n.sizes[l], axis=2)


def layer_weight_jacobian(n, l):
    """da[l]/dW[l]: ∂a_i/∂W_ki = (da[l]/dz[l])_ii a[l-1]_k at [n, k, i]."""
    return n.a[l - 1][:, :, None] * np.diagonal(activation_jacobian(n, l), axis1=1, axis2=2)[:, None, :]
