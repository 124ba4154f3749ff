"""Oracle 3, the tie-breaker: central finite differences in float64.

Used only when torch and jax disagree beyond tolerance. It needs only C, so it reuses the torch or jax
loss value (an oracle's C, not manual/'s), perturbing one parameter at a time: dC/dθ ≈ (C(θ+h) - C(θ-h))/2h
with h = ε^(1/3)·max(1, |θ|), whose error is O(h²) ≈ 1e-11 relative in float64.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from backprop_audit.network import Layer, Network


def _with_parameter(net: Network, layer: int, which: str, index: tuple, value: float) -> Network:
    layers = list(net.layers)
    current = layers[layer - 1]
    array = getattr(current, which).copy()
    array[index] = value
    layers[layer - 1] = replace(current, **{which: array})
    return Network(tuple(layers), net.loss, net.X, net.Y, net.targets)


def gradient(net: Network, layer: int, which: str, loss_of) -> np.ndarray:
    """dC/dW[layer] (which='W') or dC/db[layer] (which='b') by central differences of loss_of(net)."""
    net = net.astype(np.float64)
    base = getattr(net.layers[layer - 1], which)
    out = np.zeros_like(base)
    for index in np.ndindex(base.shape):
        theta = base[index]
        h = np.finfo(np.float64).eps ** (1 / 3) * max(1.0, abs(theta))
        plus = loss_of(_with_parameter(net, layer, which, index, theta + h))
        minus = loss_of(_with_parameter(net, layer, which, index, theta - h))
        out[index] = (plus - minus) / (2 * h)
    return out
