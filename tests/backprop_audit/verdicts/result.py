"""The result of one formula's audit: one typed value per formula, as Outcome is one per example.

audit() returns a FormulaResult; a claim the engine had to stop (time limit, the engine raised) is a
FormulaResult too (FormulaResult.stopped), so one writer (entry.py) turns every result into its
report.json entry with the same keys. The reproduce command line is decided when the result is made,
by the command that ran it, and never rewritten.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from backprop_audit.verdicts.vocabulary import Finding, Verdict


def reproduce_line(command: str, formula_id: str, *, examples: int, seed: int, dtypes=None) -> str:
    """The command line that reruns one formula's check: `command` (e.g. "backprop-audit report")
    restricted to the formula, with the run's examples and seed (and dtypes, when given)."""
    dtype_option = f" --dtypes {','.join(dtypes)}" if dtypes else ""
    return f"{command} --only {formula_id}{dtype_option} --examples {examples} --seed {seed}"


@dataclass(frozen=True)
class PreconditionResult:
    """The search where the formula's stated precondition is broken (formula.violates): it must fail."""

    setting: dict  # the violating setting (Setting.as_dict)
    verdict: Verdict
    examples: int
    counterexample: object | None  # the minimal failing Outcome, None when it held
    reproduce: str


@dataclass(frozen=True)
class Stop:
    """Why the engine stopped a claim's check before it finished; there is no example to show."""

    finding: Finding  # TIME_LIMIT, CRASHED (its worker died or was killed), or RAISED when the check itself raised
    message: str


@dataclass
class FormulaResult:
    """Everything the audit of one formula found, before it is written as report data."""

    formula: object  # the Formula record
    verdict: Verdict
    matches_expectation: bool
    searches: list = field(default_factory=list)  # one SearchResult per dtype, in order
    reproduce: str = ""  # the command line that reproduces the counterexample
    diagnosis: object | None = None  # the Diagnosis of the counterexample, None if it held or was not diagnosed
    precondition: PreconditionResult | None = None
    corrected_by: str | None = None  # the id of the record that corrects this one
    stop: Stop | None = None  # set when the check was stopped (then searches is empty)
    stopped_after: float = 0.0  # seconds the stopped check ran
    output: str | None = None  # what the claim's code printed while checked (`check` only), truncated

    @classmethod
    def stopped(cls, formula, stop: Stop, *, seconds: float, reproduce: str, corrected_by=None,
                output: str | None = None) -> FormulaResult:
        """A claim whose check did not finish: verdict error, never as expected. `formula`: the record, or
        its entry.record_fields (the check command's parent knows a claim only from its worker)."""
        return cls(formula, Verdict.ERROR, False, reproduce=reproduce, corrected_by=corrected_by, stop=stop,
                   stopped_after=seconds, output=output)

    @property
    def failing(self):
        """The first dtype's search that failed (only it is shrunk and reported), or None."""
        return next((s for s in self.searches if not s.held), None)

    @property
    def counterexample(self):
        """The minimal failing Outcome, or None (the formula held, or its check was stopped)."""
        failing = self.failing
        return failing.minimal if failing is not None else None

    @property
    def examples(self) -> int:
        return sum(s.examples for s in self.searches)

    @property
    def seconds(self) -> float:
        return self.stopped_after if self.stop else sum(s.seconds for s in self.searches)

    @property
    def ratios(self) -> list[float]:
        """error / tolerance of every example that passed, over all dtypes (the plots' blue dots)."""
        return [r for s in self.searches for r in s.ratios]

    @property
    def failing_ratios(self) -> list[float]:
        """error / tolerance of the failing examples the searches kept (the minimal first); inf where the
        formula raised or gave no number."""
        return [o.ratio for s in self.searches if not s.held
                for o in [s.minimal] + [o for o in s.failures if o is not s.minimal]]

    @property
    def worst_ratio(self) -> float:
        """The worst error / tolerance among the examples that passed (nan: no search ran)."""
        return max((s.worst_ratio for s in self.searches), default=math.nan)

    @property
    def worst_error_ratio(self) -> float:
        """The report's one worst error / tolerance: of the examples that decided the verdict. A formula
        that holds: its worst example (≤ 1); one that does not: its worst failing example with a number
        (> 1); nan when none had one (it raised, or gave a wrong shape or NaN everywhere)."""
        if self.verdict == Verdict.HOLDS:
            return self.worst_ratio
        return max((r for r in self.failing_ratios if math.isfinite(r)), default=math.nan)

    @property
    def worst_oracle_ratio(self) -> float:
        return max((s.worst_oracle_ratio for s in self.searches), default=math.nan)

    @property
    def oracles_agree(self) -> bool:
        return all(s.worst_oracle_ratio <= 1.0 for s in self.searches)
