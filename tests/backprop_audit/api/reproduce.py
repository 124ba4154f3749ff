"""The reproduce line of a check run from Python: the call that reruns it, since the user runs checks
from their own tests and project, not this repository's command."""
from __future__ import annotations

import dataclasses


def setting_call(setting) -> str:
    """`Setting(...)` with the fields that differ from the default Setting(): Python that builds it again."""
    default = type(setting)()
    changed = [f"{field.name}={getattr(setting, field.name)!r}" for field in dataclasses.fields(setting)
               if getattr(setting, field.name) != getattr(default, field.name)]
    return f"Setting({', '.join(changed)})"


def python_call(function: str, subject: str = "formula", **fixed):
    """A reproduce-line writer for audit(reproduce=...): `function(<subject 'id'>, FIXED..., seed=S, examples=N,
    dtypes=(...))`, the check's own call with the values that repeat it; `fixed`: keyword arguments the call
    needs as well (their Python source: assert_backprop's convention and setting)."""
    given = "".join(f", {name}={source}" for name, source in fixed.items())

    def line(formula_id: str, *, examples: int, seed, dtypes=None) -> str:
        dtype_option = f", dtypes={tuple(dtypes)!r}" if dtypes else ""
        return f"{function}(<{subject} {formula_id!r}>{given}, seed={seed!r}, examples={examples}{dtype_option})"

    return line
