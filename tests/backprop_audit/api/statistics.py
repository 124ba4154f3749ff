"""Hypothesis's statistics of the runs a check makes, as one test's statistics.

A check is several Hypothesis runs (the draw, the search that shrinks, one per dtype, the diagnosis's
restricted searches), each reporting its statistics to hypothesis.statistics.collector. Merged phase by
phase (examples, durations, failures found, shrinks), they are described by Hypothesis's own
describe_statistics, so `pytest --hypothesis-show-statistics` prints them for the test that ran the check
as it does for a @given test. The statistics format is Hypothesis's (engine.ConjectureRunner.statistics).
"""
from __future__ import annotations

from collections import Counter

PHASE_TOTALS = ("duration-seconds", "distinct-failures", "shrinks-successful")


def _merged_phase(phases: list[dict]) -> dict:
    merged = {"test-cases": [case for phase in phases for case in phase.get("test-cases", [])]}
    for key in PHASE_TOTALS:
        merged[key] = sum(phase.get(key, 0) for phase in phases)
    return merged


def merged(runs: list[dict]) -> dict:
    """One statistics dict of `runs` (each one run's): test cases and totals per phase, and why they stopped."""
    phases = sorted({key for run in runs for key in run if key.endswith("-phase")})
    stopped = Counter(run.get("stopped-because", "") for run in runs)
    return {**{phase: _merged_phase([run[phase] for run in runs if phase in run]) for phase in phases},
            "stopped-because": "; ".join(f"{why} ({count} runs)" if count > 1 else why
                                         for why, count in stopped.items() if why),
            "targets": {}}


def described(runs: list[dict], nodeid: str) -> str:
    """The text --hypothesis-show-statistics prints for a test that ran backprop-audit checks."""
    from hypothesis.statistics import describe_statistics

    return describe_statistics({**merged(runs), "nodeid": f"{nodeid} (backprop-audit: {len(runs)} Hypothesis runs)"})
