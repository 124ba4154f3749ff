"""The forward pass in NumPy, and the activation functions as the documents define them.

This is the "manual" side's own arithmetic: every formula record reads z[l] and a[l] from here (through
the convention views in backprop_audit.model.convention), never from an oracle. The activations are written
the textbook way (1 / (1 + e^-z), not a library call), because that is what a reader of the documents
would compute; overflow of e^-z for very negative z gives 1/inf = 0, the right limit.
"""
from __future__ import annotations

import numpy as np


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
    return (z > 0).astype(z.dtype)  # the subgradient 0 at z = 0, as torch and jax_grad.py take it


def identity(z):
    return z


def identity_prime(z):
    return np.ones_like(z)


def softmax(z, axis):
    """Softmax along `axis` (1 for row-major batches, 0 for column vectors), shifted for stability."""
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(z, axis):
    """log softmax(z) = z - log Σ e^z, computed without forming softmax(z) (which underflows to 0)."""
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


ACTIVATION = {"sigmoid": sigmoid, "tanh": tanh, "relu": relu, "identity": identity}
DERIVATIVE = {"sigmoid": sigmoid_prime, "tanh": tanh_prime, "relu": relu_prime, "identity": identity_prime}


def activate(name: str, z, axis: int = 1):
    return softmax(z, axis) if name == "softmax" else ACTIVATION[name](z)


def derivative(name: str, z):
    """g'(z) elementwise; softmax has no elementwise derivative (its Jacobian couples the outputs)."""
    if name == "softmax":
        raise ValueError("softmax has a Jacobian, not an elementwise derivative")
    return DERIVATIVE[name](z)


def forward(net) -> tuple[list, list]:
    """z[l] and a[l] for l = 0..L in the canonical row-major layout (z[0] is None, a[0] is X)."""
    zs, activations = [None], [net.X]
    a = net.X
    for layer in net.layers:
        z = a @ layer.W.T + layer.b
        a = activate(layer.activation, z, axis=1)
        zs.append(z)
        activations.append(a)
    return zs, activations
