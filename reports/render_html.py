"""report.html from report data: one self-contained file, results in, text out.

Self-contained means the page fetches nothing: the style is inline, the plots are inline SVG drawn as
text (plots.py), and each formula is MathML made when the page is written (mathml.py; its
LaTeX source beside it, and in its place when it cannot be converted). No MathJax, no fonts, no script:
a Content-Security-Policy forbids every fetch and every script, so a browser reports any attempt.
The filter by verdict and document is CSS over radio buttons (page_filter.py). The page is laid out to
be read on a phone too (390 px): wide tables, matrices and formulas scroll inside their own box.
Every piece of text from a record, a document or a message goes through html.escape.
"""
from __future__ import annotations

from html import escape

from . import format as fmt
from . import page_filter, plots
from .mathml import mathml

POLICY = "default-src 'none'; style-src 'unsafe-inline'"  # no img-src: the page has no image to load

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5em; }
p, dd, li, blockquote, figcaption, h1, h2, h3 { overflow-wrap: anywhere; }
a { color: #2a52be; }
table { border-collapse: collapse; }
.scroll { overflow-x: auto; max-width: 100%; }
#summary { width: 100%; min-width: 760px; font-size: 13px; background: #fff; }
#summary th, #summary td { border: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }
#summary th { background: #f0f0f0; }
#by-document { font-size: 13px; background: #fff; margin: 0.5em 0; }
#by-document caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
#by-document th, #by-document td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; }
#by-document th { background: #f0f0f0; }
#by-document td + td { text-align: right; }
.verdict { font-weight: 600; padding: 1px 6px; border-radius: 3px; }
.v-holds { background: #d9f2dd; } .v-fails { background: #fadbd8; } .v-error { background: #fde9c4; }
.unexpected { color: #b00020; font-weight: 700; }
input.filter { position: fixed; top: 0; left: 0; width: 1px; height: 1px; opacity: 0; margin: 0; }
#filter fieldset { border: 0; margin: 0 0 0.4em; padding: 0; display: flex; flex-wrap: wrap; gap: 0.3em; }
#filter legend { font-weight: 600; padding: 0 0 0.2em; }
#filter label { border: 1px solid #bbb; border-radius: 1em; padding: 1px 0.7em; background: #fff; cursor: pointer;
                font-size: 13px; overflow-wrap: anywhere; }
.shown { font-size: 13px; color: #555; } .none-shown { display: none; font-weight: 600; }
nav#contents ol { margin: 0.3em 0; padding-left: 1.4em; }
h2.group-title { margin: 1.6em 0 0.4em; padding-bottom: 0.2em; border-bottom: 2px solid #1d1d1f; }
a.top { float: right; font-size: 13px; font-weight: 400; }
div.math { overflow-x: auto; overflow-y: hidden; background: #f4f4f6; border-left: 3px solid #6a5acd;
           padding: 0.4em 0.6em; }
math[display="block"] { font-size: 1.15em; text-align: left; }  /* centred, an overflow would be cut on the left */
details.source summary { font-size: 12px; color: #555; cursor: pointer; }
section.formula { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1.2em 1em;
                  margin: 1.5em 0; }
blockquote { margin: 0.5em 0; padding-left: 1em; border-left: 3px solid #ccc; color: #444; }
pre { background: #f4f4f6; padding: 0.6em; overflow-x: auto; font-size: 13px; }
pre.latex { border-left: 3px solid #6a5acd; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 1em; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
.matrices { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; margin: 0.5em 0; }
div.matrix { max-width: 100%; overflow-x: auto; }
table.matrix { font: 12px ui-monospace, monospace; border-left: 2px solid #555; border-right: 2px solid #555; }
table.matrix td { padding: 1px 6px; text-align: right; }
div.matrix .label { font: 600 12px system-ui, sans-serif; white-space: nowrap; padding-bottom: 2px; }
div.matrix .shape { font-weight: 400; color: #666; }
table.matrix td.marked { background: #fadbd8; font-weight: 700; }
figure { margin: 0.5em 0; } svg.plot { display: block; max-width: 100%; height: auto; background: #fff; }
figcaption { font-size: 12px; color: #555; }
#summary-plot .scroll { max-height: 70vh; overflow-y: auto; border: 1px solid #ddd; }
@media (max-width: 600px) {
  main { padding: 0.7em; }
  section.formula { padding: 0.4em 0.7em 0.8em; }
  dl.facts { grid-template-columns: minmax(0, 1fr); } dl.facts dd { margin-bottom: 0.4em; }
  #summary-plot svg.plot { max-width: none; }  /* an overview of every formula: scroll, do not shrink */
  /* the summary table as one card per formula, each cell labelled: eight columns do not fit a phone */
  #summary { min-width: 0; background: none; }
  #summary thead { display: none; }
  #summary tbody, #summary tr, #summary td { display: block; }
  #summary tr { background: #fff; border: 1px solid #ddd; border-radius: 4px; margin: 0 0 0.5em; padding: 3px 0; }
  #summary td, #summary th { border: 0; padding: 1px 8px; overflow-wrap: anywhere; }
  #summary td::before { content: attr(data-label) ": "; font-weight: 600; color: #555; }
  #summary td:first-child { font-size: 14px; font-weight: 600; }
  #summary td:first-child::before, #summary td:empty { display: none; }
  #summary td:nth-child(n+3):nth-child(-n+7) { display: inline-block; padding-right: 2px; }  /* the short facts, in a row */
}
"""


def _verdict(verdict: str) -> str:
    return f'<span class="verdict v-{escape(verdict)}">{escape(verdict)}</span>'


def _notations(report: dict) -> str:
    """Each source document's notation against the report's (report.json's `documents`); "" without them."""
    documents = report.get("documents") or {}
    if not documents:
        return ""
    items = "".join(f"<li><strong>{escape(name)}</strong>: {escape(d['notation'])}</li>" for name, d in documents.items())
    return (f'<section id="notation"><h2>{escape(fmt.NOTATION_TITLE)}</h2><p>{escape(fmt.NOTATION_LEAD)}</p>'
            f"<ul>{items}</ul></section>")


def _by_document(report: dict) -> str:
    """The per-document counts (fmt.by_document), in a box that scrolls sideways on a phone; "" for one document."""
    rows = fmt.by_document(report)
    if len(rows) < 2:
        return ""
    head = "".join(f"<th>{escape(c)}</th>" for c in fmt.BY_DOCUMENT_COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(row[c]))}</td>" for c in fmt.BY_DOCUMENT_COLUMNS) + "</tr>"
                   for row in rows)
    return (f'<div class="scroll"><table id="by-document"><caption>By document</caption><thead><tr>{head}</tr>'
            f"</thead><tbody>{body}</tbody></table></div>")


def _summary_table(groups: list, docs: list[str]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in fmt.SUMMARY_COLUMNS)
    rows = []
    for f in (f for _, _, members in groups for f in members):
        row = fmt.summary_row(f)
        cells = [f'<a href="#{escape(fmt.anchor(f["id"]))}">{escape(row["formula"])}</a>']
        for column in fmt.SUMMARY_COLUMNS[1:]:
            value = escape(row[column])
            if column == "verdict":
                value = _verdict(row[column])
            elif column == "as expected" and row[column] != "yes":
                value = f'<span class="unexpected">{value}</span>'
            cells.append(value)
        labelled = "".join(f'<td data-label="{escape(column)}">{c}</td>' for column, c in zip(fmt.SUMMARY_COLUMNS, cells))
        rows.append(f'<tr class="{page_filter.item_classes(f, docs)}">{labelled}</tr>')
    return (f'<div class="scroll"><table id="summary"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


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
    parts = [f"<h3>Minimal counterexample</h3><p>{escape(c['description'])} ({escape(fmt.NETWORK_LAYOUT)})</p>",
             f'<div class="matrices network">{network}</div>']
    if compared:
        parts.append("<p>The quantity, manual value beside each oracle (the compared entry is marked):</p>"
                     f'<div class="matrices compared">{compared}</div>')
    parts.append(f"<pre>{escape(c['message'])}</pre>")
    if c.get("reproduce"):
        parts.append(f"<p>Reproduce: <code>{escape(c['reproduce'])}</code></p>")
    return "".join(parts)


def _link(formula_id: str, present) -> str:
    """A link to another formula's section; its id alone when that formula is not in this report (a run
    of a selection, `--only`)."""
    if formula_id not in present:
        return f"{escape(formula_id)} {escape(fmt.NOT_IN_REPORT)}"
    return f'<a href="#{escape(fmt.anchor(formula_id))}">{escape(formula_id)}</a>'


def _facts(f: dict, present) -> str:
    expectation = escape(f["expected"]) + ("" if f["matches_expectation"]
                                           else ' <span class="unexpected">— the verdict differs</span>')
    facts = [("claims", f"<code>{escape(f['quantity'])}</code> ({escape(f.get('convention', ''))} convention) "
                        f"on {escape(fmt.setting_text(f['setting']))}"),
             ("verdict", f"{_verdict(f['verdict'])} (expected: {expectation})"),
             ("worst error / tolerance", escape(fmt.worst_text(f))),
             ("examples", f"{f['examples']} — {escape(fmt.dtypes_text(f))}"),
             ("torch and jax agree", escape(fmt.oracles_text(f)))]
    if f.get("diagnosis"):
        facts.append(("diagnosis", escape(f["diagnosis"])))
    if f.get("corrected_by"):
        facts.append(("corrected form", _link(f["corrected_by"], present)))
    if f.get("corrects"):
        facts.append(("corrects", _link(f["corrects"], present)))
    if f.get("precondition_check"):
        facts.append(("precondition check", escape(fmt.precondition_text(f["precondition_check"]))))
    if f.get("note"):
        facts.append(("note", escape(f["note"])))
    return '<dl class="facts">' + "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"


def _drawn_text(f: dict) -> str:
    """Which examples a formula's histogram shows, said plainly: a search keeps only its first few
    failing examples (diagnosis material), so an erratum's plot holds fewer examples than it checked."""
    agree = len(f.get("ratios") or [])
    failing = f.get("failing_ratios") or []
    drawn = plots.drawn_count(failing)
    failed = max(f["examples"] - agree, 0)
    if agree + drawn >= f["examples"]:
        return f"all {f['examples']} examples checked"
    return (f"{agree + drawn} of the {f['examples']} examples checked: the {agree} that agree and {drawn} of the "
            f"{failed} that fail (a search keeps only its first failing examples, the minimal one first"
            + (", and an example that raised or gave no value has no number to draw" if drawn < len(failing) else "")
            + ")")


def _plot(f: dict) -> str:
    if "ratios" not in f and "failing_ratios" not in f:
        return "<p><em>No per-example data to plot (rendered from report.json).</em></p>"
    svg = plots.ratio_histogram(f.get("ratios") or [], f.get("failing_ratios") or [], name=f["id"])
    return (f'<figure class="plot">{svg}'
            f"<figcaption>Error / tolerance per example, log scale; the dashed line is the tolerance (1). "
            f"Drawn: {escape(_drawn_text(f))}.</figcaption></figure>")


def _written(f: dict) -> str:
    """The formula as written: MathML, with its LaTeX source to copy (the source alone when it cannot be
    converted)."""
    source = f'<pre class="latex"><code>{escape(f["written"])}</code></pre>'
    math = mathml(f["written"])
    if math is None:
        return f"<p>Formula as written (LaTeX source):</p>{source}"
    return (f'<p>Formula as written:</p><div class="math">{math}</div>'
            f'<details class="source"><summary>LaTeX source</summary>{source}</details>')


def _section(f: dict, docs: list[str], present) -> str:
    source = f["source"]
    precondition = f.get("precondition_check") or {}
    parts = [f'<section class="formula {page_filter.item_classes(f, docs)}" id="{escape(fmt.anchor(f["id"]))}">',
             f'<h2>{escape(f["id"])} {_verdict(f["verdict"])}<a class="top" href="#top">↑ top</a></h2>',
             f"<p><strong>{escape(f['title'])}</strong></p>",
             f"<p>{escape(source['document'])}, {escape(source['where'])}:</p>",
             f"<blockquote>{escape(source['quote'])}</blockquote>",
             # the formula block: a corrected form shown beside the formula as written goes after _written
             _written(f),
             _facts(f, present), _plot(f)]
    if f.get("counterexample"):
        parts.append(_counterexample(f["counterexample"]))
    if precondition.get("counterexample"):
        parts.append("<h3>Outside the precondition</h3>" + _counterexample(precondition["counterexample"]))
    return "".join(parts) + "</section>"


def _groups(groups: list, docs: list[str], present) -> str:
    return "".join(f'<div class="group group-{key}" id="group-{key}"><h2 class="group-title">{escape(title)} '
                   f'({len(members)})</h2>{"".join(_section(f, docs, present) for f in members)}</div>'
                   for key, title, members in groups)


def _contents(groups: list, has_plot: bool, has_input_errors: bool) -> str:
    entries = [("filter", "Filter", ""), ("summary", "Summary table", "")]
    entries += [("summary-plot", "Every formula's examples (plot)", "")] if has_plot else []
    entries += [(f"group-{key}", f"{title} ({len(members)})", f' class="group-{key}"') for key, title, members in groups]
    entries += [("input-errors", fmt.INPUT_ERRORS_TITLE, "")] if has_input_errors else []
    items = "".join(f'<li{extra}><a href="#{key}">{escape(text)}</a></li>' for key, text, extra in entries)
    return f'<nav id="contents" aria-label="Contents"><h2>Contents</h2><ol>{items}</ol></nav>'


def _summary_plot(formulas: list[dict]) -> str:
    if not any("ratios" in f or "failing_ratios" in f for f in formulas):
        return ""
    svg = plots.summary_figure(formulas)
    agree = sum(len(f.get("ratios") or []) for f in formulas)
    failing = sum(plots.drawn_count(f.get("failing_ratios") or []) for f in formulas)
    checked = sum(f["examples"] for f in formulas)
    return (f'<figure id="summary-plot"><div class="scroll">{svg}</div><figcaption>Error / tolerance of '
            f"the examples of each formula (catalog order), log scale; the dashed line is the tolerance (1). "
            f"Drawn: {agree + failing} of the {checked} examples checked — the {agree} that agree (blue) and "
            f"the {failing} failing examples the searches kept (red); a search keeps only its first failing "
            "examples, and one that raised or gave no value has no number to draw.</figcaption></figure>")


def _input_errors(problems: list[dict]) -> str:
    """The claims files' problems (`backprop-audit check`): what could not be loaded, so was not checked."""
    items = "".join(f"<li>{escape(fmt.problem_text(p))}</li>" for p in problems)
    return (f'<section id="input-errors"><h2>{escape(fmt.INPUT_ERRORS_TITLE)}</h2>'
            f"<p>{escape(fmt.INPUT_ERRORS_LEAD)}</p><ul>{items}</ul></section>")


def render_html(report: dict) -> str:
    formulas = report["formulas"]
    docs = page_filter.documents(formulas)
    groups = page_filter.in_page_order(formulas)
    inputs, labels = page_filter.controls(docs)
    summary_plot = _summary_plot(formulas)
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>backprop-audit report</title><style>{STYLE}\n{page_filter.css(formulas, docs)}</style></head><body>",
        inputs, '<main id="top">',
        "<h1>backprop-audit report</h1>",
        f"<p>Generated {escape(str(report['generated']))} with {escape(fmt.environment_text(report))}.</p>",
        f"<p>{escape(fmt.totals(report))}</p>", _by_document(report), _notations(report),
        "<p>Worst error / tolerance: the largest entrywise |manual − oracle| divided by the tolerance for "
        "that entry. Below 1 the formula agrees with torch and jax; a formula that fails shows its worst "
        "failing example (1 or more).</p>",
        _contents(groups, bool(summary_plot), bool(report.get("input_errors"))),
        f'<section id="filter" aria-label="Filter"><h2>Filter</h2>{labels}'
        '<p class="shown"></p><p class="none-shown">No formula matches this filter.</p></section>',
        _summary_table(groups, docs), summary_plot,
        _groups(groups, docs, {f["id"] for f in formulas}),
        _input_errors(report["input_errors"]) if report.get("input_errors") else "",
        "</main></body></html>\n",
    ])
