"""The exit status of `backprop-audit report` and `backprop-audit check`, decided from the report alone.

  0  every formula was judged by oracles that agree, and every verdict is the one its record expects;
  1  a verdict differs from its expectation (a formula fails, an erratum holds, a claim errors);
  2  an input or usage error: something the user asked for could not be checked (a claims file that
     does not load, a malformed record, an unknown --only id);
  3  an instrument fault: torch and jax disagreed beyond tolerance on some network of some formula.

Precedence when several apply: 2, then 3, then 1. An input error comes first because the run did not
check what was asked, so neither of the others is the whole story. An instrument fault comes before a
differing verdict because a verdict is only as good as the oracles that judged it: when torch and jax
disagree, finite differences decide which one to keep (the report's oracle_notes say which, per
quantity and network), but two independent oracles disagreeing means one of them, or the engine around
them, is broken, and CI must stop on that rather than pass or fail on a verdict it judged (DESIGN.md,
"Trust"). A disagreement confined to entries that depend on relu'(0) is a kink, not a fault: it is kept
out of oracles_agree where it is found (judging/evaluate.py).
"""
from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    AS_EXPECTED = 0
    VERDICT_DIFFERS = 1
    INPUT_ERROR = 2
    INSTRUMENT_FAULT = 3


def instrument_faults(report: dict) -> list[str]:
    """The ids of the formulas on whose networks torch and jax disagreed beyond tolerance."""
    return [f["id"] for f in report["formulas"] if not f["oracles_agree"]]


def exit_status(report: dict, *, warn=None) -> ExitStatus:
    """The command's exit status for `report` (precedence in the module docstring); `warn(line)`, when
    given, is told of an instrument fault, which the commands' summary line does not mention."""
    faults = instrument_faults(report)
    if faults and warn is not None:
        warn(f"instrument fault: torch and jax disagree beyond tolerance on {', '.join(faults)}; finite "
             f"differences' decision is in each formula's oracle_notes (exit {int(ExitStatus.INSTRUMENT_FAULT)})")
    if report.get("input_errors"):
        return ExitStatus.INPUT_ERROR
    if faults:
        return ExitStatus.INSTRUMENT_FAULT
    if any(not f["matches_expectation"] for f in report["formulas"]):
        return ExitStatus.VERDICT_DIFFERS
    return ExitStatus.AS_EXPECTED
