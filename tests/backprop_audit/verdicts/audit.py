"""Audit one formula: search in every dtype, decide the verdict, diagnose a failure.

The result is a plain dict in the report.json contract (see reports/), so that the report writer
reads only data and never imports the engine, torch or jax.
"""
from __future__ import annotations

import math

import numpy as np

from backprop_audit.verdicts.diagnose import diagnose
from backprop_audit.judging.evaluate import ERROR
from backprop_audit.judging.memory import RunMemory
from backprop_audit.searching.search import search

HOLDS, FAILS, ERRORED = "holds", "fails", "error"


def _array(x) -> list:
    """Nested lists for report.json; NaN and infinities (a formula's broken output) as the strings
    "nan", "inf", "-inf", since JSON has no such numbers."""
    a = np.asarray(x, dtype=np.float64)
    if np.all(np.isfinite(a)):
        return a.tolist()
    return np.vectorize(lambda v: float(v) if np.isfinite(v) else str(v), otypes=[object])(a).tolist()


def network_dict(net) -> dict:
    return {
        "widths": list(net.widths), "batch": net.batch, "dtype": str(net.dtype), "loss": net.loss,
        "activations": [layer.activation for layer in net.layers], "targets": net.targets,
        "W": [_array(layer.W) for layer in net.layers], "b": [_array(layer.b) for layer in net.layers],
        "X": _array(net.X), "Y": _array(net.Y),
    }


def counterexample_dict(outcome, reproduce: str) -> dict:
    q = outcome.quantity
    manual = outcome.manual.get(q)
    return {
        "network": network_dict(outcome.network),
        "description": outcome.network.describe(),
        "quantity": q,
        "index": list(outcome.index) if outcome.index is not None else None,
        "kind": outcome.kind,
        "message": outcome.message,
        "manual": _array(manual) if isinstance(manual, np.ndarray) and manual.dtype.kind in "fiu" else None,
        "oracles": {name: _array(values[q]) for name, values in outcome.oracle.items() if q in values},
        "reproduce": reproduce,
    }


def _finite(x: float):
    return None if not math.isfinite(x) else x


def _precondition_check(formula, examples: int, seed: int, memory: RunMemory) -> dict:
    """Search `formula` where its precondition is broken (formula.violates): it must fail there."""
    outside = search(formula, setting=formula.violates, dtype="float64", examples=examples, seed=seed, memory=memory)
    return {
        "setting": formula.violates.describe(),
        "verdict": HOLDS if outside.held else (ERRORED if outside.minimal.status == ERROR else FAILS),
        "examples": outside.examples,
        "counterexample": None if outside.held else counterexample_dict(
            outside.minimal, f"backprop-audit report --only {formula.id} --examples {examples} --seed {seed}"),
    }


def audit(formula, *, examples: int = 100, dtypes=("float64", "float32"), seed: int = 0,
          corrected_by: str | None = None, diagnose_failures: bool = True, memory: RunMemory | None = None) -> dict:
    """Search `formula` in each dtype; return its report.json entry (plus plot data under 'ratios').
    memory: the run's (default: a fresh one, for this audit alone)."""
    memory = memory if memory is not None else RunMemory()
    searches = []
    for dtype in dtypes:  # only the first failing dtype's counterexample is reported: only it is shrunk
        shrink = all(s.held for s in searches)
        searches.append(search(formula, dtype=dtype, examples=examples, seed=seed, shrink=shrink, memory=memory))
    failing = next((s for s in searches if not s.held), None)
    verdict, counterexample, diagnosis = HOLDS, None, None
    if failing is not None:
        minimal = failing.minimal
        verdict = ERRORED if minimal.status == ERROR else FAILS
        reproduce = (f"backprop-audit report --only {formula.id} --dtypes {failing.dtype} "
                     f"--examples {examples} --seed {seed}")
        counterexample = counterexample_dict(minimal, reproduce)
        if diagnose_failures:
            found = diagnose(formula, [minimal] + failing.failures, dtype=failing.dtype, memory=memory)
            diagnosis = found.text
            counterexample["fix"] = found.fix
            counterexample["diagnosis_kind"] = found.kind
    ratios = [r for s in searches for r in s.ratios]
    # The failing examples' ratios too (those the search kept), so a report shows errata at or above 1:
    # "worst_error_ratio" and "ratios" count only the examples that passed.
    failed = [o.ratio for s in searches if not s.held
              for o in [s.minimal] + [o for o in s.failures if o is not s.minimal]]
    precondition = _precondition_check(formula, examples, seed, memory) if formula.violates is not None else None
    return {
        "id": formula.id,
        "title": formula.title,
        "source": {"document": formula.source.document, "where": formula.source.where, "quote": formula.source.quote},
        "written": formula.written,
        "quantity": formula.quantity,
        "convention": formula.convention,
        "setting": formula.setting.describe(),
        "expected": formula.expected,
        "verdict": verdict,
        "matches_expectation": (verdict == HOLDS) == (formula.expected == "holds"),
        "examples": sum(s.examples for s in searches),
        "dtypes": {s.dtype: {"examples": s.examples, "held": s.held, "worst_error_ratio": _finite(s.worst_ratio),
                             "seconds": round(s.seconds, 3)} for s in searches},
        "worst_error_ratio": _finite(max((s.worst_ratio for s in searches), default=0.0)),
        "oracles_agree": all(s.worst_oracle_ratio <= 1.0 for s in searches),
        "worst_oracle_ratio": _finite(max(s.worst_oracle_ratio for s in searches)),
        "oracle_notes": [n for s in searches for n in s.oracle_notes],
        "counterexample": counterexample,
        "diagnosis": diagnosis,
        "corrected_by": corrected_by,
        "corrects": formula.corrects,
        "note": formula.note,
        "precondition_check": precondition,
        "seconds": round(sum(s.seconds for s in searches), 3),
        "ratios": ratios,
        "failing_ratios": [_finite(r) for r in failed],  # None: the formula raised or gave no number
        "worst_failing_ratio": _finite(max((r for r in failed if math.isfinite(r)), default=math.inf)),
    }
