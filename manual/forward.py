"""The forward pass in NumPy, with the activations as the documents define them.

This is the "manual" side's own arithmetic: every formula record reads z[l] and a[l] from here (through
the convention views in backprop_audit.model.convention), never from an oracle. The activations and their
derivatives are the NumPy forms of the operation table (backprop_audit.model.operations), written the
textbook way (1 / (1 + e^-z), not a library call), because that is what a reader of the documents
would compute.
"""
from __future__ import annotations

from typing import NamedTuple

from backprop_audit.model.normalization import batch_normalize, drop
from backprop_audit.model.operations import activation


def activate(name: str, z, axis: int = -1):
    """g(z); a softmax runs along `axis`, the units (the last axis of the canonical layout and of a stack)."""
    return activation(name).forward(z, axis)


def forward(net) -> tuple[list, list]:
    """z[l] and a[l] for l = 0..L in the canonical row-major layout (z[0] is None, a[0] is X)."""
    passed = forward_pass(net)
    return passed.z, passed.a


class Passed(NamedTuple):
    """The forward pass, row-major, indexed by layer 0..L (None where a layer has no such value): z, a, and at
    batch-normalized hidden layers mu, var (n,), zhat, u (N, n) (model/normalization.py). a[l] is after dropout."""
    z: list
    a: list
    mu: list
    var: list
    zhat: list
    u: list


def forward_pass(net) -> Passed:
    """The forward pass with batch normalization (u = γ ⊙ ẑ + β, a = g(u)) and inverted dropout (a = g(u) ⊙
    mask / (1 - p)) where the network has them; without them u is z and nothing else changes."""
    passed = Passed([None], [net.X], [None], [None], [None], [None])
    a = net.X
    for layer in net.layers:
        z = a @ layer.W.T + layer.b
        u = z
        if layer.gamma is not None:
            normalized = batch_normalize(z, layer.gamma, layer.beta)
            u = normalized.u
            for values, value in zip(passed[2:], normalized):
                values.append(value)
        else:
            for values in passed[2:]:
                values.append(None)
        a = drop(activate(layer.activation, u, axis=1), layer.mask, net.dropout)
        passed.z.append(z)
        passed.a.append(a)
    return passed
