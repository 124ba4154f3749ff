"""The reproduce line of a check run from Python: the call that reruns it, since the user runs checks
from their own tests and project, not this repository's command."""
from __future__ import annotations


def python_call(function: str, subject: str = "formula"):
    """A reproduce-line writer for audit(reproduce=...): `function(<subject 'id'>, seed=S, examples=N,
    dtypes=(...))`, the check's own call with the values that repeat it."""
    def line(formula_id: str, *, examples: int, seed, dtypes=None) -> str:
        dtype_option = f", dtypes={tuple(dtypes)!r}" if dtypes else ""
        return f"{function}(<{subject} {formula_id!r}>, seed={seed!r}, examples={examples}{dtype_option})"

    return line
