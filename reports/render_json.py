"""report.json from report data: the stable contract, without the per-example plot data.

The contract is the JSON Schema shipped in the package, backprop_audit/report.schema.json (schema 1:
its keys stay, more may be added there); each formula's entry is written by
backprop_audit.verdicts.entry.report_entry, and tests/test_report_schema.py validates reports against it.
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
