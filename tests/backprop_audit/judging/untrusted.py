"""Calling a formula's code, which is untrusted: whatever it raises is its own error, never the run's.

A claim's compute() may raise anything, BaseExceptions included: sys.exit() raises SystemExit, a
generator's close GeneratorExit, and code may raise KeyboardInterrupt itself. All of them are the
formula's error (FormulaRaised, an ordinary Exception the judgement turns into an "error" Outcome),
except two that must stop the check of the claim as a whole:
- TimeLimitExceeded, raised by the check command's timer inside the claim;
- a real Ctrl-C. In a claims worker (commands/worker.py) SIGINT is ignored, so a KeyboardInterrupt
  there can only come from the claim's own code: it is the claim's error. Anywhere else (pytest, the
  catalog's report) it may be the user's Ctrl-C, and it stops the run as before.
"""
from __future__ import annotations

import signal

import numpy as np


class TimeLimitExceeded(BaseException):
    """Raised by the timer inside a claim that runs too long.

    A BaseException, not an Exception, on purpose: the engine turns a formula's own exceptions into
    per-example "error" outcomes and Hypothesis catches Exception to shrink; this must pass through
    both and stop the claim as a whole.
    """


class FormulaRaised(Exception):
    """The formula's own code raised `error` (any BaseException but the two above)."""

    def __init__(self, error: BaseException):
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error


def is_the_claims_own(error: BaseException) -> bool:
    """Whether `error`, raised while a formula's code ran, is that formula's error (see the module docstring)."""
    if isinstance(error, TimeLimitExceeded):
        return False
    if isinstance(error, KeyboardInterrupt):
        return signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # no Ctrl-C reaches this process
    return True


def call(formula, view, layer):
    """formula.compute(view[, layer]); a returned array is copied, so that a formula keeping and later
    changing what it returned cannot change a value already judged. Raises FormulaRaised."""
    try:
        with np.errstate(all="ignore"):  # overflow to inf is reported by the comparison, not as a warning
            value = formula.compute(view, layer) if formula.per_layer else formula.compute(view)
    except BaseException as error:
        if not is_the_claims_own(error):
            raise
        raise FormulaRaised(error) from error
    return value.copy() if isinstance(value, np.ndarray) else value
