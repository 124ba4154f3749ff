"""One formula on one network: the manual value, both oracles, the comparison. One Outcome.

The formula runs on a View of the network in its own convention; the oracles' canonical quantities
and the tolerances are converted into that convention by the one adapter (convention.py). Anything
the formula does wrong (raises, wrong shape or dtype, NaN or inf) is an Outcome with status "error"
and a message saying which; it never stops the run.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field

import numpy as np

from . import compare, tolerance
from .convention import expected_value, view_of
from backprop_audit import references

OK, MISMATCH, ERROR = "ok", "mismatch", "error"


@dataclass
class Outcome:
    status: str  # ok | mismatch | error
    ratio: float  # worst |manual - oracle| / tol (inf for an error)
    message: str  # empty when ok
    network: object
    kind: str = "ok"  # ok, mismatch, shape, dtype, nonfinite, type, raised
    quantity: str = ""  # the canonical quantity name where the worst entry is, e.g. dC/dW[2]
    index: tuple | None = None
    oracle_ratio: float = 0.0  # worst |torch - jax| / tol
    oracle_note: str = ""  # set when torch and jax disagree beyond tolerance
    manual: dict = field(default_factory=dict, repr=False)  # quantity -> value, in the formula's convention
    oracle: dict = field(default_factory=dict, repr=False)  # oracle name -> {quantity -> value}, same

    @property
    def failed(self) -> bool:
        return self.status != OK


def _call(formula, view, layer):
    with np.errstate(all="ignore"):  # overflow to inf is reported by the comparison, not as a warning
        return formula.compute(view, layer) if formula.per_layer else formula.compute(view)


def oracle_disagreement(net, answers, tolerances) -> tuple[float, str]:
    """Worst |torch - jax| / tol over every quantity, and a note naming where it exceeds 1."""
    if len(answers) < 2:
        return 0.0, ""
    (name_a, qa), (name_b, qb) = list(answers.items())[:2]
    worst, note = 0.0, ""
    for q, value in qa.items():
        tol = tolerance.tolerance_for(tolerances[q], value)
        if not (np.all(np.isfinite(value)) and np.all(np.isfinite(qb[q]))):
            continue
        ratio, index = compare.worst_ratio(value, qb[q], tol)
        if ratio > worst:
            worst = ratio
            if ratio > 1:
                note = (f"{name_a} and {name_b} disagree on {q} at {index}: "
                        f"{value[index]!r} vs {qb[q][index]!r} ({ratio:.3g} x tolerance)")
    return worst, note


def evaluate(formula, net, answers: dict | None = None) -> Outcome:
    """Check `formula` on `net` against every available oracle."""
    answers = answers if answers is not None else references.quantities(net)
    tolerances = tolerance.tolerances(net)
    oracle_ratio, oracle_note = oracle_disagreement(net, answers, tolerances)
    view = view_of(net, formula.convention)
    worst = compare.Comparison(True, 0.0, "", "ok")
    worst_q = ""
    manual_values, oracle_values = {}, {name: {} for name in answers}
    for layer in formula.layers(net.depth):
        q = formula.quantity_at(layer)
        label = f"{formula.id}: {q}" + (f" (layer {layer})" if layer else "")
        if layer and not 1 <= layer <= net.depth:
            return Outcome(ERROR, float("inf"), f"{label}: layer {layer} does not exist in a depth-{net.depth} "
                           f"network", net, "shape", q)
        try:
            value = _call(formula, view, layer)
        except Exception as error:  # the formula itself failed: a finding, not a crash
            where = traceback.extract_tb(error.__traceback__)[-1]
            return Outcome(ERROR, float("inf"), f"{label}: raised {type(error).__name__}: {error} "
                           f"(at {where.name}, line {where.lineno})", net, "raised", q,
                           oracle_ratio=oracle_ratio, oracle_note=oracle_note)
        expected = {name: expected_value(q, qs[q], formula.convention) for name, qs in answers.items()}
        reference = next(iter(answers.values()))[q]
        tol = expected_value(q, tolerance.tolerance_for(tolerances[q], reference), formula.convention)
        result = compare.compare_entrywise(label, value, expected, tol, net.dtype)
        manual_values[q] = np.asarray(value) if isinstance(value, (np.ndarray, np.number, float, int)) else value
        for name in answers:
            oracle_values[name][q] = expected[name]
        if not result.ok:
            status = MISMATCH if result.kind == "mismatch" else ERROR
            return Outcome(status, result.ratio, result.problem, net, result.kind, q, result.index,
                           oracle_ratio, oracle_note, manual_values, oracle_values)
        if result.ratio >= worst.ratio:
            worst, worst_q = result, q
    return Outcome(OK, worst.ratio, "", net, "ok", worst_q, worst.index, oracle_ratio, oracle_note,
                   manual_values, oracle_values)
