"""pytest setup: the oracles' frameworks started (references.start(): one torch thread, float64 JAX, ...)
as in a user's run, the Hypothesis profile (dev/ci/nightly), one RunMemory for the whole
session; under pytest-xdist the two workers share the JAX compiles, and each catalog record is audited
once, on the worker that audits its setting's other records."""
import functools
import gc
import hashlib
import os

import pytest

from backprop_audit.searching import profiles

PROFILE = profiles.load()

pytest_plugins = ["pytester"]  # test_check_command.py runs pytest on the user's claims in-process


def pytest_report_header(config):
    return f"hypothesis profile: {PROFILE} ({profiles.examples_per_formula()} networks per formula and dtype)"


# Under `-n`, pytest-xdist hands tests to its workers one by one ("load"); pyproject.toml's addopts select
# "loadgroup" instead: the same, except that tests marked xdist_group (below) run on one worker, so records
# that share a setting are searched on the same remembered networks and stacked oracles
# (search.drawn_networks, screen.py), a record's audit serves the gate and the diagnosis tests (`audited`),
# and a test module's shared runs (test_check_isolation.py) happen once. It was once switched on here, in
# the controller's pytest_configure: the workers parse the command line again, never saw it, and grouped
# nothing (tests/test_xdist_groups.py checks that a worker groups).


# XLA compiles in this process, counted from JAX's own monitoring events: the oracles' executables (their
# functions are named _all_gradients, _cost and _all_jacobians; compiled, or loaded from the persistent cache) and the
# small ones JAX compiles for operations run outside them. Each pytest-xdist worker sends its counts to the
# controller, which prints the session's totals (the budget: 30 oracle compiles per test session).
COMPILE_EVENT, CACHE_HIT_EVENT = "/jax/core/compile/backend_compile_duration", "/jax/compilation_cache/cache_hits"
ORACLE_FUNCTIONS = ("_all_gradients", "_cost", "_all_jacobians")  # _all_jacobians: the local Jacobians (jax_grad.jacobians)
jax_counts = {"oracle": 0, "loaded": 0, "other": 0}
_listening: list = []  # whether this process's listeners are registered (_count_jax_events)


def _count_jax_events() -> None:
    """Registers the listeners once a process: a pytest session run inside this one (pytester's runpytest_inprocess
    with this repository as its root, test_check_command.py) starts with this module as it is, and registered them a
    second time, so that every later compile of that worker counted twice (the session's count read 22-31 for the
    same executables, by which tests a worker ran after that one)."""
    import jax.monitoring

    if _listening:
        return
    _listening.append(True)

    def on_compile(event, seconds, fun_name="", **kwargs):
        if event == COMPILE_EVENT:
            jax_counts["oracle" if any(name in fun_name for name in ORACLE_FUNCTIONS) else "other"] += 1

    def on_event(event, **kwargs):
        if event == CACHE_HIT_EVENT:
            jax_counts["loaded"] += 1

    jax.monitoring.register_event_duration_secs_listener(on_compile)
    jax.monitoring.register_event_listener(on_event)


def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["jax_counts"] = dict(jax_counts)
    # pytest's cleanup then runs 5 full collections to surface unraisable exceptions (finalizers of garbage
    # cycles); they walked everything the tests keep (the session's RunMemory): 0.8 s at the end of a process that
    # ran the catalog gate and the mutants, on the critical path of each worker. One collection here meets the
    # same garbage (its finalizers' exceptions are still caught and reported by that cleanup), and freezing what
    # survives leaves the five nearly nothing to walk.
    gc.collect()
    gc.freeze()


def pytest_testnodedown(node, error):
    for name, count in getattr(node, "workeroutput", {}).get("jax_counts", {}).items():
        jax_counts[name] += count


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(
        f"JAX this session: {jax_counts['oracle']} oracle executables compiled or loaded "
        f"({jax_counts['loaded']} of all executables came from the persistent cache), "
        f"{jax_counts['other']} small compiles of operations outside the oracles")


def _runs_tests(config) -> bool:
    """A process that runs tests: a pytest-xdist worker, or pytest without workers (not xdist's controller,
    which only hands tests out and need not import torch and jax)."""
    return hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None)


def pytest_sessionstart(session):
    if not _runs_tests(session.config):
        return
    # Before any test module is imported (collection comes next). XLA keeps the flags a user's own run has
    # (references.start() adds only its optimization level), so that the executables the workers load from the
    # persistent cache are the ones `backprop-audit report` and `check` compiled: JAX's cache key covers
    # XLA_FLAGS. With one XLA thread per worker (--xla_cpu_multi_thread_eigen=false
    # intra_op_parallelism_threads=1, as this file once set) they were other executables, and on a new
    # machine the test command after the README's report took 76-80 s instead of 68-70 s; with a warm cache both
    # run as fast (the test command, 3 pairs alternated: 1.006 of the wall, 0.987-1.053).
    from backprop_audit import references

    references.start()
    _count_jax_events()
    if hasattr(session.config, "workerinput"):  # a pytest-xdist worker: the other one starts at the same
        from backprop_audit.references import jax_grad  # time and needs the same compiles: share them

        jax_grad.warm(with_jacobians=True)


def pytest_collection_finish(session):
    # What exists now is what the imports made (torch, jax, Hypothesis, the test modules: ~340k
    # objects, three quarters of a worker's heap at the end). Frozen, Python's garbage collector stops
    # walking it: in every full collection during the tests, in the 5 collections pytest runs at the end
    # of each process to surface unraisable exceptions, and in the interpreter's own at exit. That cut a
    # worker's end from ~2-3.5 s to ~0.5-1 s. Garbage made by the tests is collected (and its
    # unraisable exceptions reported) as before.
    gc.freeze()
    # The tests allocate fast (networks, outcomes, traced trees) and keep much of it in the session's RunMemory:
    # at Python's default thresholds (700, 10, 10) the catalog gate and the mutants ran 3,535 young collections
    # and 33 full ones, 5.0-5.6 s of their ~58 s in the collector (gc.callbacks); at (20000, 20, 20) 124 and 6,
    # 3.0-3.2 s. Their A/B in one process: 0.87 of the wall time (0.75-0.98); the whole suite's under -n 2:
    # 1.00 (0.96-1.04), inside this machine's noise. Cycles are still collected, less often.
    from backprop_audit.commands.cli import GC_THRESHOLDS

    gc.set_threshold(*GC_THRESHOLDS)  # (20000, 20, 20), as in the command's own processes


def _setting_group(formula) -> str:
    described = f"{formula.setting.describe()} min depth {formula.min_depth()}"
    return "setting-" + hashlib.sha1(described.encode()).hexdigest()[:8]


@pytest.hookimpl(tryfirst=True)  # before xdist's worker adds the group to each test's id
def pytest_collection_modifyitems(config, items):
    from backprop_audit.manual import catalog

    by_id = {f.id: f for f in catalog()}
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        formula = params.get("formula") or by_id.get(params.get("formula_id"))
        if formula is not None and formula.id in by_id:
            item.add_marker(pytest.mark.xdist_group(_setting_group(formula)))
        elif hasattr(params.get("mutant"), "formula"):  # tests/test_mutants.py: the same, for the mutants' settings
            item.add_marker(pytest.mark.xdist_group(_setting_group(params["mutant"].formula)))
    items[:] = _with_the_fresh_run_hidden(items)


def _with_the_fresh_run_hidden(items: list) -> list:
    """The tests, with the group "check-runs" (one worker runs it, in this order) ordered so that the wait for
    test_check_isolation.py's fresh-interpreter run is spent on work: its first test starts that run and checks
    another in this process; test_check_command.py's in-process runs come next (~10 s, meanwhile the fresh run's
    hung claim waits out its time limit and grace and its crashed workers are replaced); the tests that read
    the fresh run come last. In file order the worker waited ~3 s for it with its core idle."""
    def in_group(item) -> bool:
        marker = item.get_closest_marker("xdist_group")
        return marker is not None and marker.args[:1] == ("check-runs",)

    def module(item) -> str:
        return item.nodeid.split("::")[0].rsplit("/", 1)[-1]

    slots = [i for i, item in enumerate(items) if in_group(item)]
    group = [items[i] for i in slots]
    isolation = [item for item in group if module(item) == "test_check_isolation.py"]
    command = [item for item in group if module(item) == "test_check_command.py"]
    if not isolation or not command:
        return items
    ordered = isolation[:1] + command + isolation[1:] + [item for item in group if item not in isolation + command]
    reordered = list(items)
    for i, item in zip(slots, ordered):
        reordered[i] = item
    return reordered


@pytest.fixture(scope="session")
def memory():
    """The session's RunMemory, one per process: the catalog's records that share a setting (grouped on one
    worker above) are searched on the same drawn networks and stacked oracles, and the tests that audit,
    search or check pass it so that nothing is computed twice in a session."""
    from backprop_audit.judging.memory import RunMemory

    return RunMemory()


@pytest.fixture(scope="session")
def audited(memory):
    """audited(record id) -> the report entry of that catalog record's audit in the profile's count, once per process:
    the gate (test_catalog.py) and the diagnosis tests (test_doc_003.py) read the same result."""
    from backprop_audit.verdicts.audit import audit
    from backprop_audit.verdicts.entry import report_entry
    from backprop_audit.model.formula import link_corrections
    from backprop_audit.manual import catalog

    formulas = catalog()
    by_id, corrected_by = {f.id: f for f in formulas}, link_corrections(formulas)

    @functools.cache
    def run(formula_id: str) -> dict:
        return report_entry(audit(by_id[formula_id], examples=profiles.examples_per_formula(),
                                  corrected_by=corrected_by.get(formula_id), memory=memory))

    return run


@pytest.fixture(scope="session")
def report_schema():
    """The JSON Schema of report.json (report.schema.json, shipped in the package), as a validator."""
    import json

    import jsonschema

    from backprop_audit.verdicts.entry import REPORT_SCHEMA

    schema = json.loads(REPORT_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="session")
def schema_problems(report_schema):
    """schema_problems(report) -> every way it breaks the schema, as 'path: message' lines (none: it follows it)."""
    def problems(report: dict) -> list[str]:
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in report_schema.iter_errors(report)]

    return problems
