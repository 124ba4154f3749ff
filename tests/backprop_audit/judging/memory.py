"""What one run remembers: the networks drawn, the oracles' answers, the stacked oracles, the judged halves.

A run (a report, a check of claims files, a test session, one standalone audit or search) makes one
RunMemory and passes it down; it is dropped with the run. It exists for speed, never for results: every
value in it is what computing again would give, because every key is the content of what it was
computed from (a network's fingerprint, a setting, a seed), never an object's identity.
- draws: many formulas share a setting (the catalog's 84 records have 16 (setting, depth) pairs), and
  the same seed draws the same networks, so a setting's networks are drawn once per run;
- oracle answers per network: the diagnosis asks for the same failing network's quantities once per
  candidate fix (dozens of times);
- stacked oracles: the formulas of one setting are screened on the same stacks (~5 times each);
- judged halves: the formula-independent half of a single check (tolerances, kinks, the oracles'
  disagreement), about half of its cost;
- tolerances per network: the diagnosis weighs every candidate fix against the same failing networks'
  tolerances (a repair search tries thousands of edits: recomputing them was ~70% of its time).
Every table keeps its last `size` entries. Values are shared by every caller that asks: the arrays in
them (in dicts, lists and tuples; a record's own arrays by whoever builds it, see screen.py) are made
read-only when they are remembered, so no caller can change what another one reads.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import numpy as np

from backprop_audit import references


class Bounded:
    """The last `size` values computed, by key, the least recently used dropped first; with `max_bytes`, also as
    many as the NumPy arrays in them fit in (a value larger than max_bytes alone is not kept)."""

    def __init__(self, size: int, max_bytes: int | None = None):
        self.size, self.max_bytes, self._entries, self._bytes, self.nbytes = size, max_bytes, OrderedDict(), {}, 0

    def get(self, key):
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key, value):
        self._forget(key)
        size = array_bytes(value) if self.max_bytes is not None else 0
        if size > (self.max_bytes or 0):  # larger than the whole table: not kept, and nothing dropped for it
            return shared(value)
        self._entries[key], self._bytes[key] = shared(value), size
        self.nbytes += size
        while len(self._entries) > self.size or (self.max_bytes is not None and self.nbytes > self.max_bytes):
            self._forget(next(iter(self._entries)))
        return value

    def _forget(self, key) -> None:
        if key in self._entries:
            del self._entries[key]
            self.nbytes -= self._bytes.pop(key, 0)

    def remembered(self, key, compute: Callable[[], object]):
        value = self.get(key)
        return value if value is not None else self.put(key, compute())

    def __len__(self) -> int:
        return len(self._entries)


def array_bytes(value) -> int:
    """The bytes of the NumPy arrays in `value` (itself, or in its dicts, lists and tuples)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sum(map(array_bytes, value.values()))
    if isinstance(value, (list, tuple)):
        return sum(map(array_bytes, value))
    return 0


def shared(value):
    """`value`, with every NumPy array in it (itself, or in its dicts, lists and tuples) made read-only."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, dict):
        for item in value.values():
            shared(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            shared(item)
    return value


class RunMemory:
    """The tables of one run (see the module docstring), sized as the catalog needs them."""

    def __init__(self):
        self.draws = Bounded(256)  # (setting, min depth, seed) -> the longest float64 draw made (networks, choices)
        self.first_passes = Bounded(256)  # (setting, min depth, dtype, examples, seed) -> (those networks in dtype, choices)
        self.answers = Bounded(64)  # network fingerprint -> {oracle name: {quantity name: array}}
        self.stacks = Bounded(128)  # (oracle names, the networks' fingerprints) -> the stacked oracles
        self.judged = Bounded(256)  # network fingerprint -> evaluate's formula-independent half
        # the same two for the local Jacobians (model/quantity.py), computed only for a Jacobian claim. Bounded by
        # bytes too (a Jacobian is (N, out, in) per kind, layer and oracle: ~20 KB a catalog network, 100s of MB a
        # wide one), and by more entries than the others: a setting's networks in both dtypes are 200, the records
        # of a setting are audited one after another, and a shrink in between adds ~100 more. At 256 entries the
        # catalog gate computed 2,855 networks' Jacobians for 1,600 distinct ones (~2 ms each).
        self.jacobians = Bounded(2048, max_bytes=256 << 20)  # network fingerprint -> {oracle: {Jacobian name: array}}
        self.judged_jacobians = Bounded(2048, max_bytes=256 << 20)  # fingerprint -> the Jacobians' formula-independent half
        # fingerprint -> {oracle: {Jacobian name: array}} of the oracles that computed it in a stack ahead of the
        # check (batching/jacobians.py): what jacobian_answers takes instead of computing that oracle's again
        self.stacked_jacobians = Bounded(2048, max_bytes=256 << 20)

    def oracle_answers(self, net) -> dict[str, dict]:
        """references.quantities(net), computed once per network content in this run."""
        return self.answers.remembered(net.fingerprint(), lambda: references.quantities(net))

    def jacobian_answers(self, net) -> dict[str, dict]:
        """references.jacobians(net), computed once per network content in this run (an oracle's from a stack
        computed ahead, where there is one)."""
        key = net.fingerprint()
        return self.jacobians.remembered(key, lambda: references.jacobians(net, self.stacked_jacobians.get(key)))

