"""RunMemory's tables (judging/memory.py): bounded by entries and, for the Jacobians, by the bytes of their arrays."""
import numpy as np
import pytest

from backprop_audit.judging.memory import Bounded, RunMemory, array_bytes


def test_the_least_recently_used_entry_goes_first():
    table = Bounded(2)
    table.put("a", 1), table.put("b", 2)
    assert table.get("a") == 1  # "a" used: "b" is now the oldest
    table.put("c", 3)
    assert (table.get("a"), table.get("b"), table.get("c")) == (1, None, 3)


def test_a_byte_bound_keeps_as_many_values_as_fit_and_counts_a_key_once():
    kib = lambda: {"J": [np.zeros(128), (np.zeros(0),)]}  # 1 KiB of arrays, nested as the oracles' answers are
    assert array_bytes(kib()) == 1024
    table = Bounded(100, max_bytes=3 * 1024)
    for key in "abcd":
        table.put(key, kib())
    assert [table.get(k) is not None for k in "abcd"] == [False, True, True, True] and table.nbytes == 3 * 1024
    table.put("d", kib())  # the same key again: replaced, not counted twice
    assert len(table) == 3 and table.nbytes == 3 * 1024
    table.put("big", {"J": np.zeros(1024)})  # 8 KiB alone exceeds the bound: not kept, and nothing dropped for it
    assert table.get("big") is None and len(table) == 3 and table.nbytes == 3 * 1024


def test_remembered_values_are_read_only():
    table = Bounded(4)
    value = table.remembered("k", lambda: {"J": np.ones(3)})
    with pytest.raises(ValueError):
        value["J"][0] = 2.0


def test_the_jacobian_tables_hold_a_settings_networks_in_both_dtypes_with_a_shrink_between():
    memory = RunMemory()
    for table in (memory.jacobians, memory.judged_jacobians):
        assert table.size >= 2 * 100 + 100 and table.max_bytes is not None  # the ci profile's 100 networks a dtype
