"""The forward pass in NumPy, with the activations as the documents define them.

This is the "manual" side's own arithmetic: every formula record reads z[l] and a[l] from here (through
the convention views in backprop_audit.model.convention), never from an oracle. The activations and their
derivatives are the NumPy forms of the operation table (backprop_audit.model.operations), written the
textbook way (1 / (1 + e^-z), not a library call), because that is what a reader of the documents
would compute.
"""
from __future__ import annotations

from backprop_audit.model.operations import activation


def activate(name: str, z, axis: int = -1):
    """g(z); a softmax runs along `axis`, the units (the last axis of the canonical layout and of a stack)."""
    return activation(name).forward(z, axis)


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
