"""The one writer of a formula's report.json entry: FormulaResult in, plain data out.

Every entry, of a formula that was audited or of a claim whose check was stopped, is written here with
the same keys; report.schema.json (REPORT_SCHEMA, shipped in the package) is the contract they follow, and
the renderers (reports/) read only that data, never the engine. The entry also carries the
per-example plot data ("ratios", "failing_ratios"), which render_json leaves out of report.json.
"""
from __future__ import annotations

import importlib.resources
import math

import numpy as np

from backprop_audit.verdicts.arrays import array_data
from backprop_audit.verdicts.result import FormulaResult, PreconditionResult

REPORT_SCHEMA = importlib.resources.files("backprop_audit") / "report.schema.json"  # the entries' contract


def _finite(x: float):
    """A ratio for JSON: None when there is no finite number (the formula raised, or nothing ran)."""
    return x if math.isfinite(x) else None


def network_dict(net) -> dict:
    """The network's fields; an array too large to write in full is bounded (verdicts/arrays.py)."""
    return {
        "widths": list(net.widths), "batch": net.batch, "dtype": str(net.dtype), "loss": net.loss,
        "activations": [layer.activation for layer in net.layers], "targets": net.targets,
        "W": [array_data(layer.W) for layer in net.layers], "b": [array_data(layer.b) for layer in net.layers],
        "X": array_data(net.X), "Y": array_data(net.Y),
        **({"l2": net.l2} if net.l2 else {}), **({"eta": net.eta} if net.eta is not None else {}),
        **({"gamma": [array_data(layer.gamma) for layer in net.layers[:-1]],
            "beta": [array_data(layer.beta) for layer in net.layers[:-1]]} if net.batchnorm else {}),
        **({"dropout": net.dropout, "mask": [array_data(layer.mask) for layer in net.layers[:-1]]}
           if net.dropout is not None else {}),
    }


def counterexample_dict(outcome, reproduce: str, diagnosis=None) -> dict:
    """A failing example: its network, the compared quantity (manual beside each oracle), what went wrong.

    The compared values are bounded around the compared entry (verdicts/arrays.py): a wrong-shape return
    of millions of entries is written as its shape, a window, min, max and a digest."""
    q = outcome.quantity
    manual = outcome.manual.get(q)
    index = outcome.index
    return {
        "network": network_dict(outcome.network),
        "description": outcome.network.describe(),
        "quantity": q,
        "index": list(index) if index is not None else None,
        "kind": outcome.kind,
        "message": outcome.message,
        "manual": array_data(manual, index) if isinstance(manual, np.ndarray) and manual.dtype.kind in "fiu" else None,
        "oracles": {name: array_data(values[q], index) for name, values in outcome.oracle.items() if q in values},
        "reproduce": reproduce,
        "fix": diagnosis.fix if diagnosis else None,
        "diagnosis_kind": diagnosis.kind if diagnosis else None,
    }


def _stopped_counterexample(result: FormulaResult, record: dict) -> dict:
    """The counterexample of a stopped claim: no network, the reason in its message."""
    return {"network": None, "description": "no network: the check of this claim was stopped",
            "quantity": record["quantity"], "index": None, "kind": result.stop.finding,
            "message": f"{record['id']}: {result.stop.message}", "manual": None, "oracles": {},
            "reproduce": result.reproduce, "fix": None, "diagnosis_kind": None}


def _counterexample(result: FormulaResult, record: dict) -> dict | None:
    if result.stop is not None:
        return _stopped_counterexample(result, record)
    minimal = result.counterexample
    return None if minimal is None else counterexample_dict(minimal, result.reproduce, result.diagnosis)


def _precondition(check: PreconditionResult | None) -> dict | None:
    if check is None:
        return None
    return {"setting": check.setting, "verdict": check.verdict, "examples": check.examples,
            "counterexample": None if check.counterexample is None else
            counterexample_dict(check.counterexample, check.reproduce)}


def _repair(diagnosis) -> dict | None:
    """The diagnosis's edit of the formula (verdicts/repair.py), None when the diagnosis is not one."""
    repair = getattr(diagnosis, "repair", None)
    return None if repair is None else repair.as_dict()


def _seconds(seconds) -> float | None:
    return None if seconds is None else round(seconds, 3)


def _expected_diagnosis(formula) -> dict | None:
    """An erratum's expected diagnosis (kind and fix) from its record; None when the record has none."""
    return None if formula.expected_diagnosis is None else formula.expected_diagnosis.as_dict()


def record_fields(formula) -> dict:
    """The part of an entry that is the record itself (what it claims, where it comes from), as plain
    data: a claims worker sends it for each claim it loaded, so that `check`, which never imports a
    claims file, can write the entry of a claim whose worker died (commands/worker.py)."""
    return {"id": formula.id, "title": formula.title,
            "source": {"document": formula.source.document, "where": formula.source.where,
                       "quote": formula.source.quote},
            "written": formula.written, "quantity": formula.quantity, "convention": formula.convention,
            "setting": formula.setting.as_dict(), "expected": formula.expected,
            "expected_diagnosis": _expected_diagnosis(formula), "corrects": formula.corrects, "note": formula.note}


def report_entry(result: FormulaResult) -> dict:
    """The report.json entry of one formula (plus its plot data under "ratios" and "failing_ratios").
    result.formula is the Formula record, or its record_fields (a stopped claim the parent writes)."""
    record = result.formula if isinstance(result.formula, dict) else record_fields(result.formula)
    failed = result.failing_ratios
    entry = {
        **{key: record[key] for key in ("id", "title", "source", "written", "quantity", "convention", "setting",
                                        "expected", "expected_diagnosis")},
        "verdict": result.verdict,
        "matches_expectation": result.matches_expectation,
        "examples": result.examples,
        "dtypes": {s.dtype: {"examples": s.examples, "held": s.held, "worst_error_ratio": _finite(s.worst_error_ratio),
                             "detects": _finite(s.detects), "vacuous_examples": s.vacuous,
                             "seconds": round(s.seconds, 3)} for s in result.searches},
        # the smallest relative error of a ×(1 + ε) mistake any passing example would have caught, and
        # whether a dtype where it held held on vacuous examples only (vocabulary.py: "vacuous")
        "detects": _finite(min((s.detects for s in result.searches), default=math.inf)),
        "vacuous": any(s.held and s.passed and s.vacuous == s.passed for s in result.searches),
        # of the examples that decided the verdict: ≤ 1 where it holds, > 1 where it fails (the schema)
        "worst_error_ratio": _finite(result.worst_error_ratio),
        "oracles_agree": result.oracles_agree,
        "worst_oracle_ratio": _finite(result.worst_oracle_ratio),
        "oracle_notes": [n for s in result.searches for n in s.oracle_notes],
        "counterexample": _counterexample(result, record),
        "diagnosis": result.diagnosis.text if result.diagnosis else None,
        "repair": _repair(result.diagnosis),
        "diagnosis_seconds": _seconds(getattr(result.diagnosis, "seconds", None)),
        "repair_seconds": _seconds(getattr(result.diagnosis, "repair_seconds", None)),
        "corrected_by": result.corrected_by,
        "corrects": record["corrects"],
        "note": record["note"],
        "precondition_check": _precondition(result.precondition),
        "seconds": round(result.seconds, 3),
        "ratios": result.ratios,
        "failing_ratios": [_finite(r) for r in failed],  # None: the formula raised or gave no number
    }
    if result.output is not None:  # `check` captures what a claim prints; the catalog prints nothing
        entry["output"] = result.output
    return entry
