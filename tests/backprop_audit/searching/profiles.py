"""Hypothesis profiles: dev (quick), ci (derandomized, fixed count, print_blob), nightly (many more).

Select with HYPOTHESIS_PROFILE=dev|ci|nightly; under CI (CI=true) the default is ci, otherwise dev.
`examples_per_formula()` is the number of networks each formula is searched on, per dtype.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = {"dev": 40, "ci": 100, "nightly": 2000}

settings.register_profile("dev", max_examples=EXAMPLES["dev"], deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=EXAMPLES["ci"], deadline=None, derandomize=True, print_blob=True,
                          database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", max_examples=EXAMPLES["nightly"], deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])


def active_profile() -> str:
    name = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    if name not in EXAMPLES:
        raise SystemExit(f"HYPOTHESIS_PROFILE={name!r} is not one of {', '.join(EXAMPLES)}")
    return name


def load() -> str:
    name = active_profile()
    settings.load_profile(name)
    return name


def examples_per_formula() -> int:
    return EXAMPLES[active_profile()]
