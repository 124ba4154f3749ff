"""Run a list of formulas and assemble the report.json data (the contract in reports/)."""
from __future__ import annotations

import datetime
import importlib.metadata
import platform
import sys
import time

from backprop_audit import references
from backprop_audit.judging.memory import RunMemory
from backprop_audit.verdicts.audit import REPORT_COMMAND, audit
from backprop_audit.verdicts.entry import report_entry
from backprop_audit.model.formula import corrections_among

SCHEMA = 2  # report.schema.json's version: 2 made setting an object, worst_error_ratio the one ratio


def _installed(distribution: str) -> str | None:
    """The installed version of a distribution (jaxlib: jax's compiled half), None when it is not."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment(dtypes) -> dict:
    import hypothesis
    import numpy

    import backprop_audit

    versions = {"backprop_audit": backprop_audit.__version__, "python": platform.python_version(),
                "numpy": numpy.__version__, "hypothesis": hypothesis.__version__}
    for name in ("torch", "jax"):
        module = sys.modules.get(name)
        if module is None:
            try:
                module = __import__(name)
            except ImportError:
                module = None
        versions[name] = getattr(module, "__version__", None)
    versions["jaxlib"] = _installed("jaxlib") if versions["jax"] else None
    return {**versions, "dtypes": list(dtypes), "oracles": references.available(),
            "missing_oracles": references.missing()}


def run(formulas, *, examples=100, dtypes=("float64", "float32"), seed=0, progress=None, audit_formula=audit,
        command=REPORT_COMMAND) -> dict:
    """Audit every formula; `progress` (commands/progress.py) hears `started(formula_id)` before each and
    `finished(entry)` after, with its report.json entry.

    `audit_formula` audits one formula into a FormulaResult (same signature as audit.audit);
    `backprop-audit check` passes one that enforces a per-claim time limit. `command` is the command
    line that reruns a formula, named in its reproduce lines. The run's memory is made here and dropped
    with it.
    """
    memory = RunMemory()
    corrected_by = corrections_among(formulas)  # the catalog and the claims loader check the links
    start = time.perf_counter()
    results = []
    for formula in formulas:
        if progress:
            progress.started(formula.id)
        result = audit_formula(formula, examples=examples, dtypes=dtypes, seed=seed,
                               corrected_by=corrected_by.get(formula.id), command=command, memory=memory)
        repair = getattr(result.diagnosis, "repair", None)
        if repair is not None and result.corrected_by:  # the derived repair against the hand-written one
            repair.compare_with(next(f for f in formulas if f.id == result.corrected_by), memory)
        results.append(report_entry(result))
        if progress:
            progress.finished(results[-1])
    return report_data(results, environment=environment(dtypes), examples=examples, seed=seed,
                       seconds=time.perf_counter() - start)


def report_data(entries: list, *, environment: dict, examples: int, seed: int, seconds: float) -> dict:
    """The report.json data of a run's entries (`check` assembles its workers' entries with it)."""
    return {
        "schema": SCHEMA,
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment,
        "settings": {"examples_per_dtype": examples, "seed": seed},
        "seconds": round(seconds, 2),
        "formulas": entries,
    }
