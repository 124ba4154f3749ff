"""REPORT.md from report.json data: a pure function, results in, text out (no torch, no jax)."""
from __future__ import annotations


def _ratio(x) -> str:
    return "—" if x is None else f"{x:.3g}"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: dict) -> str:
    formulas = report["formulas"]
    lines = ["# backprop-audit report", "",
             f"Generated {report['generated']}. {len(formulas)} formulas; "
             f"{sum(f['verdict'] == 'holds' for f in formulas)} hold, "
             f"{sum(f['verdict'] != 'holds' for f in formulas)} do not.", "",
             "| formula | document | verdict | expected | examples | worst error / tolerance | diagnosis |",
             "|---|---|---|---|---|---|---|"]
    for f in formulas:
        lines.append(f"| [{_cell(f['id'])}](#{f['id'].lower()}) | {_cell(f['source']['document'])} | **{f['verdict']}** "
                     f"| {f['expected']} | {f['examples']} | {_ratio(f['worst_error_ratio'])} | {_cell(f['diagnosis'] or '')} |")
    for f in formulas:
        lines += ["", f"## {f['id']}", "", f"**{_cell(f['title'])}**", "",
                  f"{f['source']['document']}, {f['source']['where']}:", "", f"> {f['source']['quote']}", "",
                  "$$", f["written"], "$$", "",
                  f"- claims: `{f['quantity']}` ({f['convention']} convention) on {f['setting']}",
                  f"- verdict: **{f['verdict']}** (expected {f['expected']}), {f['examples']} examples, "
                  f"worst error {_ratio(f['worst_error_ratio'])} × tolerance",
                  f"- torch and jax agree: {'yes' if f['oracles_agree'] else 'no'}"]
        if f.get("diagnosis"):
            lines.append(f"- diagnosis: {f['diagnosis']}")
        if f.get("corrected_by"):
            lines.append(f"- corrected form: [{f['corrected_by']}](#{f['corrected_by'].lower()})")
        if f.get("counterexample"):
            c = f["counterexample"]
            lines += ["", f"Minimal counterexample: {c['description']}", "", f"    {c['message']}"]
    return "\n".join(lines) + "\n"
