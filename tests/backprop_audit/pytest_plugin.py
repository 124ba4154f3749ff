"""The pytest plugin (entry point `pytest11`, installed with the package): in a user's pytest session,
checks run from tests (assert_holds, check, assert_backprop) follow Hypothesis's own options.

- `--hypothesis-seed` and `--hypothesis-profile` need nothing here: Hypothesis's plugin sets them, and
  each check reads them when it starts (api/options.py);
- `--hypothesis-show-statistics`: the Hypothesis runs a test's checks make are reported as that test's
  statistics (api/statistics.py), since such a test is not itself a @given test;
- the oracles' frameworks are started (references.start(): one torch thread, one BLAS thread for NumPy,
  float64 JAX, ...) once collection has found a test module that uses backprop_audit, before any test runs, so a user's own
  torch or jax tests see one configuration for the whole session rather than one that changes when
  the first check runs;
- the report header names the seed and example count the checks will use.

Importing this module imports backprop_audit (NumPy, Hypothesis) and pytest, never torch or jax: a
session whose tests do not use backprop_audit never imports them. This repository's own test suite runs with plugin autoload off and does not load it.
"""
from __future__ import annotations

import sys
import types

import pytest


def pytest_report_header(config):
    from hypothesis import core, settings

    from backprop_audit import __version__

    profile = settings.default
    seed = ("fixed (derandomized profile)" if profile.derandomize else
            f"{core.global_force_seed!r} (--hypothesis-seed)" if core.global_force_seed is not None else "random")
    return (f"backprop-audit {__version__}: {profile.max_examples} networks per formula and dtype where a call gives no "
            f"examples= "
            f"(hypothesis profile {settings.get_current_profile_name()!r}), seed {seed}")


def _uses_backprop_audit(module) -> bool:
    """Whether a test module holds anything of backprop_audit (a module, a function, a class, a record)."""
    for value in vars(module).values():
        name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        if isinstance(name, str) and name.partition(".")[0] == "backprop_audit":
            return True
    return False


def pytest_collection_finish(session):
    modules = {id(item.module): item.module for item in session.items if getattr(item, "module", None)}
    if any(_uses_backprop_audit(module) for module in modules.values()):
        from backprop_audit import references

        references.start()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Collect the Hypothesis statistics of the checks a (non-@given) test runs, for Hypothesis's plugin
    to print under --hypothesis-show-statistics (it reads item.hypothesis_statistics)."""
    if "hypothesis" not in sys.modules or not hasattr(item, "obj"):
        yield
        return
    from hypothesis import is_hypothesis_test
    from hypothesis.statistics import collector

    if is_hypothesis_test(item.obj):  # Hypothesis's own plugin collects a @given test's statistics
        yield
        return
    runs: list[dict] = []
    with collector.with_value(runs.append):
        yield
    if runs:
        from backprop_audit.api.statistics import described

        item.hypothesis_statistics = described(runs, item.nodeid)
