"""The text of a check's AssertionError, written from the formula's report entry (verdicts/entry.py), the
same data report.json holds: the verdict, the diagnosis, the worst entry (manual beside torch and jax),
the minimal network's W, b, X, Y and the call that reproduces it. Like numpy.testing.assert_allclose's
message, it is meant to be read in a failing test's output without opening anything else."""
from __future__ import annotations

import numpy as np

ARRAY_ENTRIES = 60  # an array with more entries is printed summarised (numpy's "..."): a message stays short
LAYOUT = "canonical layout: W[l] (out, in), b[l] (out,), X and Y one sample per row"


def _array(values, prefix: str) -> str:
    """`prefix` and the array, continuation lines aligned under it; NaN and infinities (stored in the
    entry as the strings "nan", "inf", "-inf") printed as numbers."""
    a = np.asarray(values, dtype=np.float64)
    return prefix + np.array2string(a, precision=6, threshold=ARRAY_ENTRIES, max_line_width=100, prefix=prefix)


def _failing_dtype(entry: dict) -> str:
    return next(dtype for dtype, searched in entry["dtypes"].items() if not searched["held"])


def _searched(entry: dict) -> str:
    return ", ".join(f"{s['examples']} networks in {dtype}" for dtype, s in entry["dtypes"].items())


def _diagnosis(entry: dict, found: dict) -> str:
    if not entry["diagnosis"]:
        return "diagnosis: none (the formula was not diagnosed)"
    fix = f", fix {found['fix']!r}" if found["fix"] else ""
    return f"diagnosis ({found['diagnosis_kind']}{fix}): {entry['diagnosis']}"


def _network(found: dict) -> list[str]:
    net = found["network"]
    lines = [f"minimal network: {found['description']} ({LAYOUT}):"]
    for l, (W, b) in enumerate(zip(net["W"], net["b"]), start=1):
        lines += [_array(W, f"  W[{l}] = "), _array(b, f"  b[{l}] = ")]
    return lines + [_array(net["X"], "  X = "), _array(net["Y"], "  Y = ")]


def _values(found: dict) -> list[str]:
    """The compared quantity in the formula's own convention: the formula's value beside each oracle's."""
    rows = ([("manual", found["manual"])] if found["manual"] is not None else []) + list(found["oracles"].items())
    width = max(len(name) for name, _ in rows)
    return [f"{found['quantity']} (in the formula's convention):"] + [
        _array(value, f"  {name:<{width}} = ") for name, value in rows]


def holds_message(entry: dict, seed, subject: str = "formula") -> str:
    worst = entry["worst_error_ratio"]
    margin = f", worst error / tolerance {worst:.3g}" if worst is not None else ""
    return f"{subject} {entry['id']!r} holds: {_searched(entry)} (seed {seed!r}){margin}"


def failure_message(entry: dict, seed, subject: str = "formula") -> str:
    """What went wrong, for a failing (or error) entry."""
    found = entry["counterexample"]
    dtype = _failing_dtype(entry)
    lines = [f"{subject} {entry['id']!r} does not hold: {entry['verdict']} in {dtype} ({entry['quantity']}, "
             f"{entry['convention']} convention; {entry['dtypes'][dtype]['examples']} networks checked, seed {seed!r})",
             _diagnosis(entry, found),
             f"worst entry: {found['message']}"]
    lines += _network(found)
    if found["oracles"]:
        lines += _values(found)
    lines.append(f"reproduce: {found['reproduce']}")
    return "\n".join(lines)
