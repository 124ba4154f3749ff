"""The local Jacobians of many networks at once, for a Jacobian claim's check_many (screen.py): torch's computed
for a stack of networks in one backward pass a layer (torch_autograd.stacked_jacobians), jax's one network at a
time (its padded per-layer oracle, ~0.4 ms a network: a stacked executable would cost each process a load of
~0.3 s per bucket and dtype, about what it would save). The answers go where evaluate() reads them
(RunMemory.jacobians, by network content), so every check and message stays evaluate()'s.

A stack holds networks of one dtype and depth that fit the gradient stacks' shape (padded.fits), at most CHUNK
and as many as keep the copies of its widest layer to JACOBIAN_CHUNK_ENTRIES entries. A network whose stacked
torch answer has a non-finite entry is computed again on its own (the stack computes every activation present
for every network: an unselected candidate's inf would be 0 · inf in its backward), so the single oracle decides
there as it would have.
"""
from __future__ import annotations

import numpy as np

from backprop_audit import references
from backprop_audit.batching.padded import CHUNK, fits
from backprop_audit.judging.memory import RunMemory


def remember_jacobians(networks, memory: RunMemory) -> None:
    """Put into `memory` the oracles' Jacobians of every network of `networks` that fits a stack and that the run
    has neither computed nor judged yet."""
    missing = {}
    for net in networks:
        key = net.fingerprint()
        if key not in missing and fits(net) and memory.jacobians.get(key) is None \
                and memory.judged_jacobians.get(key) is None:
            missing[key] = net
    if len(missing) < 2:
        return  # one network: the single oracles, as evaluate() would call them
    for stack in _stacks(list(missing.values())):
        for key, answers in zip((net.fingerprint() for net in stack), jacobians_of(stack)):
            memory.jacobians.put(key, answers)


def jacobians_of(stack: list) -> list[dict]:
    """{oracle name: {Jacobian name: (N, out, in) array}} for each network of `stack` (one dtype and depth, see
    _stacks), as references.jacobians gives it for one network."""
    names = references.require()
    per_oracle = {}
    for name in names:
        oracle = references._load(name)
        if hasattr(oracle, "stacked_jacobians"):
            answers = oracle.stacked_jacobians(stack)
            per_oracle[name] = [found if all(np.isfinite(v).all() for v in found.values()) else oracle.jacobians(net)
                                for net, found in zip(stack, answers)]
        else:
            per_oracle[name] = [oracle.jacobians(net) for net in stack]
    return [{name: per_oracle[name][i] for name in names} for i in range(len(stack))]


def _stacks(networks: list) -> list[list]:
    """The networks in stacks of one dtype and depth, similar sizes side by side (a stack is padded to its largest),
    each within CHUNK networks and JACOBIAN_CHUNK_ENTRIES copy entries (stack size × its padded N · out · out · in
    at its widest layer)."""
    from backprop_audit.references.torch_autograd import JACOBIAN_CHUNK_ENTRIES

    groups: dict = {}
    for net in networks:
        groups.setdefault((str(net.dtype), net.depth), []).append(net)
    stacks = []
    for group in groups.values():
        group.sort(key=lambda net: (net.batch, max(net.widths)))
        current, widths, batch = [], None, 0
        for net in group:
            grown = net.widths if widths is None else tuple(map(max, widths, net.widths))
            rows = max(batch, net.batch)
            entries = rows * max(grown[l] ** 2 * grown[l - 1] for l in range(1, len(grown)))
            if current and (len(current) == CHUNK or (len(current) + 1) * entries > JACOBIAN_CHUNK_ENTRIES):
                stacks.append(current)
                current, grown, rows = [], net.widths, net.batch
            current.append(net)
            widths, batch = grown, rows
        stacks.append(current)
    return stacks
