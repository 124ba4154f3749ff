"""The one vocabulary of verdicts, findings and diagnoses, for the engine and the report writer alike.

- Verdict: what a check concluded, for one example (Outcome.status) and for a formula (report.json
  "verdict"): it holds, it fails (a number that differs from the oracles), or it is an error (no
  comparable number: the formula raised, returned a wrong shape, dtype or NaN, or its check was stopped).
- Finding: what one example showed in detail (Outcome.kind, report.json counterexample "kind").
- DiagnosisKind: which change makes a failing formula hold (report.json counterexample "diagnosis_kind").
- "vacuous" is a flag, not a verdict: a check holds, but its tolerance is so wide that zeros or twice the
  true value would pass too (Outcome.detects >= 1: the smallest relative error it would detect). The
  verdict stays what was measured (holds), the flag (Outcome.vacuous, report.json "vacuous" and each dtype's
  "vacuous_examples") says it carries no evidence, so neither the gate nor a report reads it as a pass
  that means something. A flag rather than a fourth verdict, because the error was within tolerance:
  what is missing is power, which the same number ("detects") measures for every check.

The values are str (StrEnum), so they are written to report.json as the plain strings they always were
("holds", "fails", "error", ...) and compare equal to them. report.schema.json lists the same values; a
test checks the two agree. This module imports nothing of the engine: the renderers (reports/) read it.
"""
from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    HOLDS = "holds"
    FAILS = "fails"
    ERROR = "error"


class Finding(StrEnum):
    OK = "ok"
    KINK = "kink"  # differs only where relu'(0) is a choice of the framework: not a mismatch
    MISMATCH = "mismatch"
    SHAPE = "shape"
    DTYPE = "dtype"
    NONFINITE = "nonfinite"
    TYPE = "type"
    RAISED = "raised"  # the formula raised (or, for a stopped claim, the check itself did)
    NONDETERMINISTIC = "nondeterministic"  # two calls on the same network answered differently
    TIME_LIMIT = "time limit"  # a claim stopped by --time-limit before it finished: no example to show
    CRASHED = "crashed"  # a claim whose worker process died or had to be killed (commands/worker.py)


# The findings that leave no number to compare: the example's verdict is ERROR, not FAILS.
UNEVALUABLE = frozenset({Finding.SHAPE, Finding.DTYPE, Finding.NONFINITE, Finding.TYPE, Finding.RAISED,
                         Finding.NONDETERMINISTIC, Finding.TIME_LIMIT, Finding.CRASHED})


def verdict_of(finding: Finding) -> Verdict:
    """An example's verdict from its finding: ok and kink hold, a mismatch fails, the rest are errors."""
    if finding in (Finding.OK, Finding.KINK):
        return Verdict.HOLDS
    return Verdict.ERROR if finding in UNEVALUABLE else Verdict.FAILS


class DiagnosisKind(StrEnum):
    TRANSPOSE = "transpose"
    FACTOR = "factor"
    OFFSET = "offset"  # C off by a constant (a term the sum should skip, counted): never moves a gradient
    SIGN = "sign"
    DERIVATIVE_OF_A = "derivative-of-a"
    MISSING_DERIVATIVE = "missing-derivative"
    REGULARIZER = "regularizer"  # the L2 term's gradient λW dropped, doubled, halved or negated (diagnose.L2_MISTAKES)
    QUANTITY = "quantity"
    INDEX = "index"
    BATCH_REDUCTION = "batch-reduction"
    JACOBIAN_LAYOUT = "jacobian-layout"  # a local Jacobian written compressed: its diagonal, or one row for every unit's
    PRECONDITION = "precondition"
    REPAIR = "repair"  # an edit of the traced formula (verdicts/repair.py): the fix lists the edits
    NUMERICAL = "numerical"  # NaN/inf (or a float32-only failure) where the exact value is finite (verdicts/numerical.py)
    ROUNDING = "rounding"  # every failure within ~100 tolerances: how the formula rounds, not what it computes
    NONE = "none"  # no simple fix found
    # The formula cannot be evaluated as written: named by what its failing example showed (its Finding).
    SHAPE = Finding.SHAPE.value
    DTYPE = Finding.DTYPE.value
    NONFINITE = Finding.NONFINITE.value
    TYPE = Finding.TYPE.value
    RAISED = Finding.RAISED.value
    NONDETERMINISTIC = Finding.NONDETERMINISTIC.value


# The kinds as plain strings: what a record's Expected(kind, ...) and a Diagnosis are checked against.
DIAGNOSIS_KINDS = tuple(kind.value for kind in DiagnosisKind)


def matches_expectation(verdict: Verdict, expected: str, *, error_confirms_erratum: bool = True) -> bool:
    """Whether a formula's verdict is what its record expects ("holds" or "erratum").

    An erratum is confirmed when the formula does not hold. error_confirms_erratum=False (the check
    command, for the user's own claims): a formula that cannot be evaluated never matches, since a
    claim that crashes says nothing about the mathematics it was meant to test.
    """
    if verdict == Verdict.ERROR and not error_confirms_erratum:
        return False
    return (verdict == Verdict.HOLDS) == (expected == "holds")
