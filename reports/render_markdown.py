"""REPORT.md (and the CI step summary) from report data: pure functions, results in, text out.

Text that comes from records or documents (titles, quotes, messages) is escaped, so that a title
like "<script>" or "a_1 * b" shows as written instead of becoming HTML or emphasis on GitHub. The
formula itself goes in a ```math block, which GitHub renders and which needs no escaping.
"""
from __future__ import annotations

import re

from . import format as fmt

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#~$])")


def text(value) -> str:
    """Plain text for Markdown: HTML specials as entities, Markdown punctuation backslashed."""
    value = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", value)


# in a line outside fenced blocks: a backslash escape `text` made, or a code span (which `text` never escaped)
_ESCAPE_OR_CODE_SPAN = re.compile(r"\\([\\`*_\[\]|#~$])|(`+).*?(?<!`)\2(?!`)")
_FENCE = re.compile(r"^(`{3,})")


def for_terminal(markdown: str) -> str:
    """Markdown as `text` and the renderers here write it, with what `text` added taken off again (`show`
    prints it on a terminal, where "003\\_e380f16b" and "z\\[2\\]" are noise): outside fenced blocks and
    code spans, each backslash escape becomes its character and the three HTML entities theirs. Blocks and
    code spans are kept as they are: `text` never escaped them. Emphasis (**...**) is kept, it reads as such."""
    lines, fence = [], None
    for line in markdown.split("\n"):
        opened = _FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)
        elif fence is not None and line.startswith(fence) and not line[len(fence):].strip():
            fence = None
        elif fence is None:
            line = _unescaped_line(line)
        lines.append(line)
    return "\n".join(lines)


def _unescaped_line(line: str) -> str:
    pieces, end = [], 0
    for token in _ESCAPE_OR_CODE_SPAN.finditer(line):
        pieces += [_entities_undone(line[end:token.start()]), token.group(1) or token.group(0)]
        end = token.end()
    return "".join(pieces + [_entities_undone(line[end:])])


def _entities_undone(value: str) -> str:
    return value.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")  # &amp; last: "&amp;lt;" is "&lt;"


def _cell(value) -> str:
    return text(value).replace("\r", " ").replace("\n", " ")


def _fence(body: str, info: str = "") -> list[str]:
    """A fenced block whose fence is longer than any run of backticks in the body."""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, body, fence]


def _repair_lines(repair: dict) -> list[str]:
    """The derived repair beside the formula as written: the edits, the corrected formula, how it was checked."""
    checked = f"holds on {repair['examples']} fresh networks; searched in {repair['seconds']} s"
    same = repair.get("equals_corrected")
    if same:
        checked += (f"; equals the hand-written {same['id']} on {same['networks']} failing networks" if same["equal"]
                    else f"; differs from the hand-written {same['id']}")
    lines = [f"- repair ({text(checked)}): " + "; ".join(f"**{text(e)}**" for e in repair["edits"]), ""]
    return lines + _fence(f"{repair['expression']}    # = {repair['quantity']}", "python") + [""]


def _quote(value: str) -> list[str]:
    return ["> " + text(line) for line in str(value).splitlines() or [""]]


def render_summary(report: dict, *, links: bool = True) -> str:
    """The summary table alone; CI appends it to $GITHUB_STEP_SUMMARY, without the links to sections
    (the sections are in REPORT.md, not on that page)."""
    lines = [fmt.totals(report), "", *_by_document(report),
             "| " + " | ".join(fmt.SUMMARY_COLUMNS) + " |",
             "|" + "---|" * len(fmt.SUMMARY_COLUMNS)]
    for f in report["formulas"]:
        row = fmt.summary_row(f)
        cells = [_cell(row[c]) for c in fmt.SUMMARY_COLUMNS]
        if links:
            cells[0] = f"[{cells[0]}](#{fmt.anchor(f['id'])})"
        cells[2] = f"**{cells[2]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _notations(report: dict) -> list[str]:
    """Each source document's notation against the report's (report.json's `documents`), before the sections."""
    documents = report.get("documents") or {}
    if not documents:
        return []
    return ["", f"## {fmt.NOTATION_TITLE}", "", fmt.NOTATION_LEAD, ""] + \
        [f"- {text(name)}: {text(d['notation'])}" for name, d in documents.items()]


def _by_document(report: dict) -> list[str]:
    """The per-document counts (fmt.by_document) as a table, and a blank line; nothing for a single document."""
    rows = fmt.by_document(report)
    if len(rows) < 2:
        return []
    lines = ["| " + " | ".join(fmt.BY_DOCUMENT_COLUMNS) + " |", "|" + "---|" * len(fmt.BY_DOCUMENT_COLUMNS)]
    lines += ["| " + " | ".join(_cell(row[c]) for c in fmt.BY_DOCUMENT_COLUMNS) + " |" for row in rows]
    return lines + [""]


def _counterexample(c: dict) -> list[str]:
    lines = ["", f"**Minimal counterexample** ({text(c['description'])}; {fmt.NETWORK_LAYOUT}); `*` marks the entry "
             "compared:", ""]
    network = [fmt.text_block(label, values) for label, values in fmt.network_matrices(c["network"])]
    compared = [fmt.text_block(label, values, c.get("index")) for label, values in fmt.compared_matrices(c)]
    body = fmt.side_by_side(network)
    if compared:
        body += [""] + fmt.side_by_side(compared)
    body += ["", c["message"]]
    lines += _fence("\n".join(body), "text")
    if c.get("reproduce"):
        lines += ["", f"Reproduce: `{c['reproduce'].replace('`', '')}`"]
    return lines


def _link(formula_id: str, present) -> str:
    """A link to another formula's section; its id alone when that formula is not in this report."""
    if present is not None and formula_id not in present:
        return f"{text(formula_id)} {fmt.NOT_IN_REPORT}"
    return f"[{text(formula_id)}](#{fmt.anchor(formula_id)})"


def _formula_section(f: dict, present=None) -> list[str]:
    """One formula's section; `present`: the ids of the report's formulas (None: link every id)."""
    source = f["source"]
    lines = ["", f"## {text(f['id'])}", "", f"**{text(f['title'])}**", "",
             f"{text(source['document'])}, {text(source['where'])}:", ""]
    lines += _quote(source["quote"]) + ["", "Formula as written:", ""]
    lines += _fence(f["written"], "math")
    lines += ["",
              f"- claims: `{f['quantity']}` ({text(f.get('convention', ''))} convention) on {text(fmt.setting_text(f['setting']))}",
              f"- verdict: **{f['verdict']}** (expected: {f['expected']}"
              f"{'' if f['matches_expectation'] else ' — DIFFERS'}), worst error / tolerance "
              f"{fmt.worst_text(f)}",
              f"- examples: {f['examples']} — {text(fmt.dtypes_text(f))}",
              f"- torch and jax agree: {text(fmt.oracles_text(f))}"]
    if f.get("diagnosis"):
        lines.append(f"- diagnosis: {text(f['diagnosis'])}")
    if f.get("repair"):
        lines += _repair_lines(f["repair"])
    if f.get("corrected_by"):
        lines.append(f"- corrected form: {_link(f['corrected_by'], present)}")
    if f.get("corrects"):
        lines.append(f"- corrects: {_link(f['corrects'], present)}")
    if f.get("precondition_check"):
        lines.append(f"- precondition check: {text(fmt.precondition_text(f['precondition_check']))}")
    if f.get("note"):
        lines.append(f"- note: {text(f['note'])}")
    if f.get("output"):  # `check`: what the claim's code printed, kept out of the command's own output
        lines += ["", "Output of the claim's code while it was checked:", ""] + _fence(f["output"].rstrip("\n"), "text")
    if f.get("counterexample"):
        lines += _counterexample(f["counterexample"])
    if (f.get("precondition_check") or {}).get("counterexample"):
        lines += ["", "Outside the precondition:"] + _counterexample(f["precondition_check"]["counterexample"])
    return lines


def _input_errors(problems: list[dict]) -> list[str]:
    """The claims files' problems (`backprop-audit check`): what could not be loaded, so was not checked."""
    return ["", f"## {fmt.INPUT_ERRORS_TITLE}", "", fmt.INPUT_ERRORS_LEAD, ""] + \
        ["- " + text(fmt.problem_text(p)) for p in problems]


def render_markdown(report: dict) -> str:
    lines = ["# backprop-audit report", "",
             f"Generated {text(report['generated'])} with {text(fmt.environment_text(report))}.", "",
             "Worst error / tolerance: the largest entrywise |manual − oracle| divided by the tolerance "
             "for that entry. Below 1 the formula agrees with torch and jax; a formula that fails shows "
             "its worst failing example (1 or more).", ""]
    lines.append(render_summary(report).rstrip("\n"))
    lines += _notations(report)
    present = {f["id"] for f in report["formulas"]}
    for f in report["formulas"]:
        lines += _formula_section(f, present)
    if report.get("input_errors"):
        lines += _input_errors(report["input_errors"])
    return "\n".join(lines) + "\n"


def render_formula(formula: dict) -> str:
    """One formula's section alone (`backprop-audit show`)."""
    return "\n".join(_formula_section(formula))
