"""Correct formulas for any network of the default distribution, used by the benchmark and the sweep.

They are written here, in NumPy, from the definitions in network.py (row convention: X (N, n0),
W (in, out), z = a @ W + b), so a benchmark measures a real check: the formula holds on every network,
whatever its activations and loss, and nothing is skipped.
"""
from __future__ import annotations

import numpy as np

from backprop_audit.model.formula import Formula, Setting, Source

DEFAULT_DISTRIBUTION = Setting(depth=(1, 4), width=(1, 16), batch=(1, 32))
SOURCE = Source("bench", "tests/engine/bench_formulas.py", "backpropagation written out for every activation and loss")


def _prime(name, z, a):
    if name == "sigmoid":
        return a * (1 - a)
    if name == "tanh":
        return 1 - a * a
    if name == "relu":
        return (z > 0).astype(z.dtype)
    return np.ones_like(z)


def output_delta(n):
    """dC/dz[L] in row layout for every loss of network.py."""
    a, y, z = n.a[n.L], n.y, n.z[n.L]
    N = a.shape[-2]
    if n.loss == "softmax_ce":  # targets need not sum to 1 (binary, real): p Σy - y
        return (a * np.sum(y, axis=-1, keepdims=True) - y) / N
    if n.loss == "sigmoid_bce":
        return (a - y) / N
    scale = {"sum_sq": 2.0, "half_sum_sq": 1.0, "mean_sum_sq": 2.0 / N, "mean_half_sum_sq": 1.0 / N}[n.loss]
    dC_da = (scale * (a - y)).astype(a.dtype)
    if n.activation[n.L] == "softmax":
        return a * (dC_da - np.sum(dC_da * a, axis=-1, keepdims=True))
    return dC_da * _prime(n.activation[n.L], z, a)


def deltas(n):
    delta = {n.L: output_delta(n)}
    for l in range(n.L - 1, 0, -1):
        delta[l] = (delta[l + 1] @ np.swapaxes(n.W[l + 1], -1, -2)) * _prime(n.activation[l], n.z[l], n.a[l])
    return delta


def weight_gradient(n, l):
    """dC/dW[l] = a[l-1]ᵀ δ[l] (row layout, W of shape (in, out))."""
    return np.swapaxes(n.a[l - 1], -1, -2) @ deltas(n)[l]


WEIGHT_GRADIENT = Formula(
    id="bench-weight-gradient", title="dC/dW[l] = a[l-1]ᵀ δ[l], backprop written out", source=SOURCE,
    written=r"\partial C / \partial W^l = (a^{l-1})^\top \delta^l", convention="row", quantity="dC/dW[l]",
    setting=DEFAULT_DISTRIBUTION, compute=weight_gradient)

WRONG_WEIGHT_GRADIENT = Formula(
    id="bench-weight-gradient-doubled", title="twice the weight gradient (wrong)", source=SOURCE,
    written=r"2 (a^{l-1})^\top \delta^l", convention="row", quantity="dC/dW[l]",
    setting=DEFAULT_DISTRIBUTION, compute=lambda n, l: 2 * weight_gradient(n, l), expected="erratum")
