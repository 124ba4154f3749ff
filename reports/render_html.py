"""report.html from report data: one self-contained file, results in, text out.

Self-contained means the page fetches nothing: the style is inline, the plots are PNG data: URIs,
and the formula is shown as its LaTeX source in a <pre> block (no MathJax, no fonts from anywhere).
A Content-Security-Policy forbids every fetch and every script, so a browser reports any attempt.
Every piece of text from a record, a document or a message goes through html.escape.
"""
from __future__ import annotations

from html import escape

from . import format as fmt
from . import plots

POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5em; }
table { border-collapse: collapse; }
#summary { width: 100%; font-size: 13px; background: #fff; }
#summary th, #summary td { border: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }
#summary th { background: #f0f0f0; }
.verdict { font-weight: 600; padding: 1px 6px; border-radius: 3px; }
.v-holds { background: #d9f2dd; } .v-fails { background: #fadbd8; } .v-error { background: #fde9c4; }
.unexpected { color: #b00020; font-weight: 700; }
section.formula { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1.2em 1em;
                  margin: 1.5em 0; }
blockquote { margin: 0.5em 0; padding-left: 1em; border-left: 3px solid #ccc; color: #444; }
pre { background: #f4f4f6; padding: 0.6em; overflow-x: auto; font-size: 13px; }
pre.latex { border-left: 3px solid #6a5acd; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 1em; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
.matrices { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; margin: 0.5em 0; }
table.matrix { font: 12px ui-monospace, monospace; border-left: 2px solid #555; border-right: 2px solid #555; }
table.matrix td { padding: 1px 6px; text-align: right; }
div.matrix .label { font: 600 12px system-ui, sans-serif; white-space: nowrap; padding-bottom: 2px; }
div.matrix .shape { font-weight: 400; color: #666; }
table.matrix td.marked { background: #fadbd8; font-weight: 700; }
figure { margin: 0.5em 0; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: 12px; color: #555; }
"""


def _verdict(verdict: str) -> str:
    return f'<span class="verdict v-{escape(verdict)}">{escape(verdict)}</span>'


def _summary_table(report: dict) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in fmt.SUMMARY_COLUMNS)
    rows = []
    for f in report["formulas"]:
        row = fmt.summary_row(f)
        cells = [f'<a href="#{escape(fmt.anchor(f["id"]))}">{escape(row["formula"])}</a>']
        for column in fmt.SUMMARY_COLUMNS[1:]:
            value = escape(row[column])
            if column == "verdict":
                value = _verdict(row[column])
            elif column == "as expected" and row[column] != "yes":
                value = f'<span class="unexpected">{value}</span>'
            cells.append(value)
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<table id="summary"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _matrix(label: str, values, index=None) -> str:
    cells = fmt.matrix_cells(values)
    marked = fmt.marked_cell(cells, fmt.shown_index(values, index))
    body = "".join("<tr>" + "".join(
        f'<td class="marked">{escape(c)}</td>' if (i, j) == marked else f"<td>{escape(c)}</td>"
        for j, c in enumerate(row)) + "</tr>" for i, row in enumerate(cells))
    return (f'<div class="matrix"><div class="label">{escape(label)} <span class="shape">'
            f'{escape(fmt.shape_text(values))}</span>{_bounded_note(values)}</div><table class="matrix">{body}</table></div>')


def _bounded_note(values) -> str:
    """Under a bounded array's label: which entries are shown, its min, max and digest (else nothing)."""
    return f'<div class="shape">{escape(fmt.bounded_text(values))}</div>' if fmt.is_bounded(values) else ""


def _counterexample(c: dict) -> str:
    network = "".join(_matrix(label, values) for label, values in fmt.network_matrices(c["network"]))
    compared = "".join(_matrix(label, values, c.get("index")) for label, values in fmt.compared_matrices(c))
    parts = [f"<h3>Minimal counterexample</h3><p>{escape(c['description'])}</p>",
             f'<div class="matrices network">{network}</div>']
    if compared:
        parts.append("<p>The quantity, manual value beside each oracle (the compared entry is marked):</p>"
                     f'<div class="matrices compared">{compared}</div>')
    parts.append(f"<pre>{escape(c['message'])}</pre>")
    if c.get("reproduce"):
        parts.append(f"<p>Reproduce: <code>{escape(c['reproduce'])}</code></p>")
    return "".join(parts)


def _link(formula_id: str) -> str:
    return f'<a href="#{escape(fmt.anchor(formula_id))}">{escape(formula_id)}</a>'


def _facts(f: dict) -> str:
    expectation = escape(f["expected"]) + ("" if f["matches_expectation"]
                                           else ' <span class="unexpected">— the verdict differs</span>')
    facts = [("claims", f"<code>{escape(f['quantity'])}</code> ({escape(f.get('convention', ''))} convention) "
                        f"on {escape(f['setting'])}"),
             ("verdict", f"{_verdict(f['verdict'])} (expected: {expectation})"),
             ("worst error / tolerance", escape(fmt.worst_text(f))),
             ("examples", f"{f['examples']} — {escape(fmt.dtypes_text(f))}"),
             ("torch and jax agree", escape(fmt.oracles_text(f)))]
    if f.get("diagnosis"):
        facts.append(("diagnosis", escape(f["diagnosis"])))
    if f.get("corrected_by"):
        facts.append(("corrected form", _link(f["corrected_by"])))
    if f.get("corrects"):
        facts.append(("corrects", _link(f["corrects"])))
    if f.get("precondition_check"):
        facts.append(("precondition check", escape(fmt.precondition_text(f["precondition_check"]))))
    if f.get("note"):
        facts.append(("note", escape(f["note"])))
    return '<dl class="facts">' + "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"


def _plot(f: dict) -> str:
    if "ratios" not in f and "failing_ratios" not in f:
        return "<p><em>No per-example data to plot (rendered from report.json).</em></p>"
    png = plots.ratio_histogram(f.get("ratios") or [], f.get("failing_ratios") or [])
    return (f'<figure class="plot"><img src="{plots.data_uri(png)}" '
            f'alt="error / tolerance over the examples of {escape(f["id"])}">'
            "<figcaption>Error / tolerance of every example, log scale; the dashed line is the tolerance "
            "(1).</figcaption></figure>")


def _section(f: dict) -> str:
    source = f["source"]
    precondition = f.get("precondition_check") or {}
    parts = [f'<section class="formula" id="{escape(fmt.anchor(f["id"]))}">',
             f"<h2>{escape(f['id'])} {_verdict(f['verdict'])}</h2>",
             f"<p><strong>{escape(f['title'])}</strong></p>",
             f"<p>{escape(source['document'])}, {escape(source['where'])}:</p>",
             f"<blockquote>{escape(source['quote'])}</blockquote>",
             f'<p>Formula as written (LaTeX):</p><pre class="latex"><code>{escape(f["written"])}</code></pre>',
             _facts(f), _plot(f)]
    if f.get("counterexample"):
        parts.append(_counterexample(f["counterexample"]))
    if precondition.get("counterexample"):
        parts.append("<h3>Outside the precondition</h3>" + _counterexample(precondition["counterexample"]))
    return "".join(parts) + "</section>"


def _input_errors(problems: list[dict]) -> str:
    """The claims files' problems (`backprop-audit check`): what could not be loaded, so was not checked."""
    items = "".join(f"<li>{escape(fmt.problem_text(p))}</li>" for p in problems)
    return (f'<section id="input-errors"><h2>{escape(fmt.INPUT_ERRORS_TITLE)}</h2>'
            f"<p>{escape(fmt.INPUT_ERRORS_LEAD)}</p><ul>{items}</ul></section>")


def render_html(report: dict) -> str:
    formulas = report["formulas"]
    summary_plot = ""
    if any("ratios" in f or "failing_ratios" in f for f in formulas):
        png = plots.summary_figure(formulas)
        summary_plot = (f'<figure id="summary-plot"><img src="{plots.data_uri(png)}" '
                        'alt="error / tolerance of every example, per formula"><figcaption>Every example of '
                        "every formula, error / tolerance on a log scale; the dashed line is the tolerance (1)."
                        "</figcaption></figure>")
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>backprop-audit report</title><style>{STYLE}</style></head><body><main>",
        "<h1>backprop-audit report</h1>",
        f"<p>Generated {escape(str(report['generated']))} with {escape(fmt.environment_text(report))}.</p>",
        f"<p>{escape(fmt.totals(report))}</p>",
        "<p>Worst error / tolerance: the largest entrywise |manual − oracle| divided by the tolerance for "
        "that entry. Below 1 the formula agrees with torch and jax; a formula that fails shows its worst "
        "failing example (1 or more).</p>",
        _summary_table(report), summary_plot,
        *(_section(f) for f in formulas),
        _input_errors(report["input_errors"]) if report.get("input_errors") else "",
        "</main></body></html>\n",
    ])
