"""report.json from report data: the stable contract, without the per-example plot data.

Contract (schema 1; these keys stay, more may be added):
{"schema": 1, "generated": ISO time, "environment": {python, numpy, torch, jax, hypothesis, dtypes, ...},
 "formulas": [{"id", "title", "source": {"document", "where", "quote"}, "written", "quantity", "setting",
               "expected": "holds"|"erratum", "verdict": "holds"|"fails"|"error", "examples",
               "worst_error_ratio", "oracles_agree", "counterexample": null|object, "diagnosis": null|str,
               "corrected_by": null|id, ...}]}
"""
from __future__ import annotations

import json

# Per-example lists that feed the plots (report.html); too long and too noisy for report.json.
PLOT_DATA_KEYS = ("ratios", "failing_ratios")


def without_plot_data(report: dict) -> dict:
    return {**report, "formulas": [{k: v for k, v in f.items() if k not in PLOT_DATA_KEYS}
                                   for f in report["formulas"]]}


def render_json(report: dict) -> str:
    # allow_nan=False: a NaN or infinity would make invalid JSON; the engine stores those as null.
    return json.dumps(without_plot_data(report), indent=2, allow_nan=False) + "\n"
