"""One formula from a user's own test: `assert_holds(formula)` raises AssertionError with what is wrong,
`check(formula)` returns the data. Modelled on numpy.testing.assert_allclose and
torch.autograd.gradcheck: one call, keyword-only options with small defaults, a message that carries
the verdict, the diagnosis, the minimal network and the call that reproduces it.

Both run the same audit as `backprop-audit report` and `check` (verdicts/audit.py) and keep its result
as the engine's FormulaResult and its report.json entry (verdicts/entry.py): nothing is judged here.
"""
from __future__ import annotations

from dataclasses import dataclass

from backprop_audit.api.message import failure_message, holds_message
from backprop_audit.api.options import resolved_dtypes, resolved_examples, resolved_seed
from backprop_audit.api.reproduce import python_call
from backprop_audit.judging.memory import RunMemory
from backprop_audit.model.formula import Formula
from backprop_audit.model.network import DTYPES
from backprop_audit.verdicts.audit import audit
from backprop_audit.verdicts.entry import report_entry
from backprop_audit.verdicts.result import FormulaResult
from backprop_audit.verdicts.vocabulary import Verdict


@dataclass(frozen=True)
class Result:
    """What check() found, for code that wants the data rather than an assertion."""

    formula_result: FormulaResult  # the engine's typed result: searches per dtype, the minimal Outcome, the Diagnosis
    entry: dict  # the same as its report.json entry: plain data (verdicts/entry.report_entry)
    seed: object  # the seed the check ran with (resolved from Hypothesis when none was given)
    examples: int  # networks asked for, per dtype

    @property
    def verdict(self) -> Verdict:
        return self.formula_result.verdict

    @property
    def holds(self) -> bool:
        return self.verdict == Verdict.HOLDS

    @property
    def diagnosis(self):
        """The Diagnosis (kind, text, fix) of the minimal counterexample; None when it holds."""
        return self.formula_result.diagnosis

    @property
    def counterexample(self):
        """The minimal failing Outcome (its .network, .message, .manual, .oracle); None when it holds."""
        return self.formula_result.counterexample

    @property
    def message(self) -> str:
        """What assert_holds says: one line when it holds, the whole failure otherwise."""
        return holds_message(self.entry, self.seed) if self.holds else failure_message(self.entry, self.seed)


def run_check(formula, *, examples, dtypes, seed, reproduce, memory: RunMemory | None = None) -> Result:
    """audit() with the options resolved from Hypothesis (options.py) and a Python reproduce line."""
    if not isinstance(formula, Formula):
        raise TypeError(f"expected a backprop_audit.Formula, got {type(formula).__name__}")
    seed, examples = resolved_seed(seed), resolved_examples(examples)
    found = audit(formula, examples=examples, dtypes=resolved_dtypes(dtypes), seed=seed, reproduce=reproduce,
                  memory=memory)
    return Result(found, report_entry(found), seed, examples)


def check(formula: Formula, *, examples: int | None = None, dtypes=DTYPES, seed=None) -> Result:
    """Search `formula` on networks within its setting in each of `dtypes`, against torch.autograd and
    jax.grad; return what was found (never raises for a wrong formula).

    examples: networks per dtype (default: the loaded Hypothesis settings profile's max_examples);
    seed: default as Hypothesis seeds a test (a derandomized profile, `pytest --hypothesis-seed`, or random).
    """
    return run_check(formula, examples=examples, dtypes=dtypes, seed=seed, reproduce=python_call("assert_holds"))


def assert_holds(formula: Formula, *, examples: int | None = None, dtypes=DTYPES, seed=None,
                 err_msg: str = "") -> Result:
    """Raise AssertionError unless `formula` holds (equals both oracles, entry by entry within tolerance)
    on every network searched; the message says the verdict, the diagnosis, the minimal network and the
    reproduce call. `err_msg` is put first in it. The record's `expected` is not consulted (check(...)
    has .entry["matches_expectation"]). Options as check(); returns its Result when the formula holds."""
    __tracebackhide__ = True  # pytest shows the caller's line, as for numpy.testing's asserts
    result = check(formula, examples=examples, dtypes=dtypes, seed=seed)
    if not result.holds:
        raise AssertionError((err_msg + "\n" if err_msg else "") + result.message)
    return result
