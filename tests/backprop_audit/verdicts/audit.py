"""Audit one formula: search in every dtype, decide the verdict, diagnose a failure.

The result is a FormulaResult (result.py); entry.py writes it as its report.json entry, so that the
report writer reads only data and never imports the engine, torch or jax.
"""
from __future__ import annotations

import functools

from backprop_audit.verdicts.diagnose import diagnose
from backprop_audit.judging.memory import RunMemory
from backprop_audit.verdicts.result import FormulaResult, PreconditionResult, reproduce_line
from backprop_audit.verdicts.vocabulary import Finding, Verdict, matches_expectation
from backprop_audit.searching.search import search

REPORT_COMMAND = "backprop-audit report"  # reruns a catalog formula; `check` passes its own command line


def _search_verdict(searched) -> Verdict:
    return Verdict.HOLDS if searched.held else searched.minimal.status


def _precondition_check(formula, examples: int, seed: int, reproduce, memory: RunMemory) -> PreconditionResult:
    """Search `formula` where its precondition is broken (formula.violates): it must fail there."""
    outside = search(formula, setting=formula.violates, dtype="float64", examples=examples, seed=seed,
                     memory=memory)
    return PreconditionResult(setting=formula.violates.as_dict(), verdict=_search_verdict(outside),
                              examples=outside.examples, counterexample=outside.minimal,
                              reproduce=reproduce(formula.id, examples=examples, seed=seed))


def audit(formula, *, examples: int = 100, dtypes=("float64", "float32"), seed: int = 0,
          corrected_by: str | None = None, diagnose_failures: bool = True, command: str = REPORT_COMMAND,
          error_confirms_erratum: bool = True, memory: RunMemory | None = None, reproduce=None) -> FormulaResult:
    """Search `formula` in each dtype; return what was found.

    command: the command line that reruns this formula (its reproduce line names it);
    reproduce: writes the reproduce line instead, `reproduce(formula_id, *, examples, seed, dtypes=None)`
    (a check run from Python names a Python call, backprop_audit/api/reproduce.py);
    error_confirms_erratum: whether a formula that cannot be evaluated confirms an expected erratum
    (vocabulary.matches_expectation); memory: the run's (default: a fresh one, for this audit alone).
    """
    memory = memory if memory is not None else RunMemory()
    reproduce = reproduce or functools.partial(reproduce_line, command)
    searches = []
    for dtype in dtypes:  # only the first failing dtype's counterexample is reported: only it is shrunk
        shrink = all(s.held for s in searches)
        searches.append(search(formula, dtype=dtype, examples=examples, seed=seed, shrink=shrink, memory=memory))
    failing = next((s for s in searches if not s.held), None)
    verdict, line, diagnosis = Verdict.HOLDS, "", None
    if failing is not None:
        verdict = _search_verdict(failing)
        line = reproduce(formula.id, dtypes=(failing.dtype,), examples=examples, seed=seed)
        if diagnose_failures:
            diagnosis = diagnose(formula, [failing.minimal] + failing.failures, dtype=failing.dtype, memory=memory)
    precondition = _precondition_check(formula, examples, seed, reproduce, memory) if formula.violates is not None else None
    # A wrong-shape or non-finite answer is an answer, and wrong: it confirms an erratum even where a crash does not
    # (`check`: a transpose of a non-square W, a db not summed over the batch, a softmax that overflows to NaN, as
    # outside testers wrote them; an unstable formula met a finite mismatch first or a NaN first by chance)
    wrong_answer = failing is not None and failing.minimal is not None and \
        failing.minimal.kind in (Finding.SHAPE, Finding.NONFINITE)
    return FormulaResult(formula, verdict,
                         matches_expectation(verdict, formula.expected,
                                             error_confirms_erratum=error_confirms_erratum or wrong_answer),
                         searches=searches, reproduce=line, diagnosis=diagnosis, precondition=precondition,
                         corrected_by=corrected_by)
