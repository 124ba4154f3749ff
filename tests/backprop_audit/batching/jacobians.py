"""torch's local Jacobians of many networks at once, for a Jacobian claim's check_many (screen.py): computed for a
stack of networks in one backward pass a layer (torch_autograd.stacked_jacobians) and kept in the run's memory
(RunMemory.stacked_jacobians, by network content), where the Jacobians of a network evaluate() asks for are read
(RunMemory.jacobian_answers). jax's stay one network at a time, computed only for a network evaluate() judges (its
padded per-layer oracle, ~0.4 ms a network: a stacked executable would cost each process a load of ~0.3 s per
bucket and dtype, about what it would save; computed ahead for every network, a search that stops at its first
failure would also pay for networks it never judges, and load executables of wider buckets for them). So every
check and message stays evaluate()'s.

A stack holds networks of one dtype and depth that fit the gradient stacks' shape (padded.fits), at most CHUNK
and as many as keep the copies of its widest layer to JACOBIAN_CHUNK_ENTRIES entries. A network whose stacked
answer has a non-finite entry is left to the single oracle (the stack computes every activation present for
every network: an unselected candidate's inf would be 0 · inf in its backward), which decides there as it would
have.
"""
from __future__ import annotations

import numpy as np

from backprop_audit import references
from backprop_audit.batching.padded import CHUNK, fits
from backprop_audit.judging.memory import RunMemory


def remember_jacobians(networks, memory: RunMemory) -> None:
    """Put into `memory` the stacked oracles' Jacobians of every network of `networks` that fits a stack and that
    the run has not computed or judged yet."""
    missing = {}
    for net in networks:
        key = net.fingerprint()
        if key not in missing and fits(net) and all(table.get(key) is None for table in (
                memory.jacobians, memory.judged_jacobians, memory.stacked_jacobians)):
            missing[key] = net
    if len(missing) < 2:
        return  # one network: the single oracles, as evaluate() would call them
    for stack in _stacks(list(missing.values())):
        for net, answers in zip(stack, jacobians_of(stack)):
            memory.stacked_jacobians.put(net.fingerprint(), answers)


def jacobians_of(stack: list) -> list[dict]:
    """{oracle name: {Jacobian name: (N, out, in) array}} for each network of `stack` (one dtype and depth, see
    _stacks), from every available oracle with a stacked form (torch), as references.jacobians gives them for one
    network; a network's non-finite answer is left out (the single oracle's is computed when it is judged)."""
    found = [{} for _ in stack]
    for name in references.require():
        oracle = references._load(name)
        if hasattr(oracle, "stacked_jacobians"):
            for answers, stacked in zip(found, oracle.stacked_jacobians(stack)):
                if all(np.isfinite(value).all() for value in stacked.values()):
                    answers[name] = stacked
    return found


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
