"""Formatting shared by the renderers: numbers, the summary row of a formula, matrices as text.

Everything here turns report data (plain dicts, see render_json) into plain strings; escaping for a
particular output (Markdown, HTML, XML) is the job of the renderer that writes that output.
"""
from __future__ import annotations

import re

from backprop_audit.model.formula import describe_setting
from backprop_audit.verdicts.vocabulary import Verdict


def ratio_text(x) -> str:
    """An error / tolerance ratio, short: 0.0092, 3.1, 1.4e+14; "—" when there is no number."""
    if x is None:
        return "—"
    return "0" if x == 0 else f"{x:.2g}"


NOT_IN_REPORT = "(not in this report)"  # a linked formula left out of the run (--only)


def setting_text(setting: dict) -> str:
    """A report's setting (an object, Setting.as_dict) in words: "depth 1-3; widths 1-5; ..."."""
    return describe_setting(setting)


def worst_text(formula: dict) -> str:
    """worst_error_ratio, short: of the examples that decided the verdict (≤ 1 where it holds, > 1 where
    it fails); "— (no value)" for an error that gave no number."""
    ratio = formula["worst_error_ratio"]
    if ratio is None and formula["verdict"] == Verdict.ERROR:
        return "— (no value)"
    return ratio_text(ratio)


def summary_row(formula: dict) -> dict:
    """The columns of the summary table, as plain text."""
    return {
        "formula": formula["id"],
        "document": formula["source"]["document"],
        "verdict": formula["verdict"],
        "expected": formula["expected"],
        "as expected": "yes" if formula["matches_expectation"] else "NO",
        "examples": str(formula["examples"]),
        "worst error / tolerance": worst_text(formula),
        "diagnosis": formula.get("diagnosis") or "",
    }


SUMMARY_COLUMNS = tuple(summary_row({"id": "", "source": {"document": ""}, "verdict": Verdict.HOLDS,
                                     "expected": "holds", "matches_expectation": True, "examples": 0,
                                     "worst_error_ratio": None}))


def totals(report: dict) -> str:
    formulas = report["formulas"]
    counts = {v: sum(f["verdict"] == v for f in formulas) for v in Verdict}
    unexpected = sum(not f["matches_expectation"] for f in formulas)
    examples = sum(f["examples"] for f in formulas)
    return (f"{len(formulas)} formulas, {examples} examples: {counts[Verdict.HOLDS]} hold, "
            f"{counts[Verdict.FAILS]} fail, {counts[Verdict.ERROR]} cannot be evaluated; "
            f"{unexpected} {'differs' if unexpected == 1 else 'differ'} "
            "from the expectation.")


NOTATION_TITLE = "Each document's notation"
NOTATION_LEAD = ("Diagnoses, repairs and counterexamples use the report's symbols: layers 1..L, W[l], b[l], z[l], a[l] "
                 "(a[0] the input), y the targets, N the batch size. Where a document writes otherwise:")


BY_DOCUMENT_COLUMNS = ("document", "formulas read from it", "hold", "errata found", "corrected forms",
                       "not as expected")


def by_document(report: dict) -> list[dict]:
    """Per document, in the report's order: the formulas read from it (records that correct none) and what came of
    them, and the corrected forms apart; the documents in which every formula holds as expected, folded into one
    row. The totals' "96 hold" counts corrected forms and reference formulas with the documents' own (a reviewer:
    only 2 of document 000's formulas hold)."""
    rows = {}
    for f in report["formulas"]:
        row = rows.setdefault(f["source"]["document"], dict.fromkeys(BY_DOCUMENT_COLUMNS[1:], 0))
        if f.get("corrects"):
            row["corrected forms"] += 1
        else:
            row["formulas read from it"] += 1
            row["hold"] += f["verdict"] == Verdict.HOLDS
            row["errata found"] += f["expected"] == "erratum" and f["verdict"] != Verdict.HOLDS
        row["not as expected"] += not f["matches_expectation"]
    clean = [name for name, row in rows.items()
             if row["hold"] == row["formulas read from it"] and not row["corrected forms"] and not row["not as expected"]]
    out = [{"document": name, **row} for name, row in rows.items() if name not in clean]
    if len(clean) > 1:
        held = sum(rows[name]["hold"] for name in clean)
        out.append({"document": f"{len(clean)} other documents (every formula holds)", "formulas read from it": held,
                    "hold": held, "errata found": 0, "corrected forms": 0, "not as expected": 0})
    else:
        out += [{"document": name, **rows[name]} for name in clean]
    return out


def environment_text(report: dict) -> str:
    env = report.get("environment", {})
    names = ("backprop_audit", "python", "numpy", "torch", "jax", "jaxlib", "hypothesis")
    versions = ", ".join(f"{n.replace('_', '-')} {env[n]}" for n in names if env.get(n))
    dtypes = "/".join(env.get("dtypes", []))
    return f"{versions}; dtypes {dtypes}" if dtypes else versions


def dtypes_text(formula: dict) -> str:
    """Per dtype: examples, whether it held and how small an error its checks would have caught, e.g. "float64:
    100 examples, held, worst 0.0092 × tolerance, detects a relative error ≥ 2.2e-14" (the README promised
    `detects` and "vacuous" in the report; they were in report.json alone)."""
    parts = []
    for dtype, d in (formula.get("dtypes") or {}).items():
        state = f"held, worst {ratio_text(d.get('worst_error_ratio'))} × tolerance" if d.get("held") else "failed"
        if d.get("held") and d.get("detects") is not None:
            state += f", detects a relative error ≥ {d['detects']:.2g}"
        if d.get("vacuous_examples"):
            state += f", vacuous on {d['vacuous_examples']} (there ×2 or zeros would pass)"
        parts.append(f"{dtype}: {d.get('examples', '?')} examples, {state}")
    return "; ".join(parts) + ("; VACUOUS: ×2 or all zeros would pass these checks" if formula.get("vacuous") else "")


def oracles_text(formula: dict) -> str:
    if formula.get("oracles_agree"):
        extra = f" (worst torch–jax difference {ratio_text(formula.get('worst_oracle_ratio'))} × tolerance)"
        return "yes" + (extra if formula.get("worst_oracle_ratio") is not None else "")
    notes = "; ".join(formula.get("oracle_notes") or [])
    return "NO — " + (notes or "torch and jax differ beyond tolerance")


def precondition_text(check: dict) -> str:
    """What the search found where the formula's precondition is broken (it should fail there)."""
    where = f"outside its precondition ({setting_text(check['setting'])}), over {check['examples']} examples"
    if check["verdict"] == Verdict.HOLDS:
        return f"{where}: it still holds — the precondition was not needed on these networks."
    return f"{where}: it {'fails' if check['verdict'] == Verdict.FAILS else 'cannot be evaluated'}, as it should."


INPUT_ERRORS_TITLE = "Input errors"
INPUT_ERRORS_LEAD = "These claims could not be loaded and were not checked:"


def problem_text(problem: dict) -> str:
    """One input error of `backprop-audit check` (report.json "input_errors"), as the command prints it:
    "file, line N: claim ID: message"."""
    where = problem["file"] + (f", line {problem['line']}" if problem.get("line") else "")
    return f"{where}: " + (f"claim {problem['claim']}: " if problem.get("claim") else "") + problem["message"]


def anchor(formula_id: str) -> str:
    """The anchor GitHub gives the heading "## <formula_id>": lowercase, spaces to '-', other
    punctuation dropped. The HTML report uses the same ids, so links look alike in both."""
    return re.sub(r"[^\w\- ]", "", formula_id.strip().lower()).replace(" ", "-")


# --- matrices -------------------------------------------------------------------------------------------

def number(x) -> str:
    return f"{x:.4g}" if isinstance(x, (int, float)) else str(x)


def is_bounded(values) -> bool:
    """Whether `values` is the bounded form of an array too large to write in full (shape, a window
    around the compared entry, min, max, a digest; backprop_audit.verdicts.arrays): a dict."""
    return isinstance(values, dict)


def _window_values(values: dict):
    """The window of a bounded array as at most 2 dimensions (its leading axes hold one entry each)."""
    shown = values["window"]["values"]
    for _ in range(len(values["shape"]) - 2):
        shown = shown[0]
    return shown


def matrix_cells(values) -> list[list[str]]:
    """A scalar, vector or matrix (nested lists) as rows of formatted cells; a vector is one row.
    A bounded array gives the cells of its window."""
    if is_bounded(values):
        values = _window_values(values)
    if not isinstance(values, list):
        return [[number(values)]]
    if not values or not isinstance(values[0], list):
        return [[number(v) for v in values]]
    if values[0] and isinstance(values[0][0], list):  # more than 2 dimensions: not expected, shown flat
        return [[str(row)] for row in values]
    return [[number(v) for v in row] for row in values]


def shape_text(values) -> str:
    if is_bounded(values):
        return "(" + ", ".join(map(str, values["shape"])) + ")"
    shape = []
    while isinstance(values, list):
        shape.append(len(values))
        values = values[0] if values else None
    return "(" + ", ".join(map(str, shape)) + ")" if shape else "scalar"


def bounded_text(values) -> str:
    """What a bounded array's cells are and what it holds, e.g. "too large to show: entries [0:8, 0:8]
    of 9000000; min 0.5, max 0.5; digest blake2b-128:..."; "" for an array written in full."""
    if not is_bounded(values):
        return ""
    window = values["window"]
    span = ", ".join(f"{start}:{start + n}" for start, n in zip(window["start"], _window_extent(values)))
    extremes = (f"min {number(values['min'])}, max {number(values['max'])}" if values["min"] is not None
                else "no finite entry")
    nonfinite = f", {values['nonfinite']} NaN or inf" if values["nonfinite"] else ""
    return (f"too large to show: entries [{span}] of {values['entries']}; {extremes}{nonfinite}; "
            f"digest {values['digest']}")


def _window_extent(values: dict) -> list[int]:
    """The window's length along each axis of the array."""
    extent, shown = [], values["window"]["values"]
    for _ in values["shape"]:
        extent.append(len(shown) if isinstance(shown, list) else 1)
        shown = shown[0] if isinstance(shown, list) and shown else None
    return extent


def shown_index(values, index):
    """`index` (into the whole array) as an index into the cells shown: into a bounded array's window
    (None when the window does not hold it), unchanged for an array written in full."""
    if not is_bounded(values) or index is None:
        return index
    start, extent = values["window"]["start"], _window_extent(values)
    if len(index) != len(start) or not all(s <= i < s + n for i, s, n in zip(index, start, extent)):
        return None
    return [i - s for i, s in zip(index, start)][max(len(index) - 2, 0):]


def network_matrices(network: dict | None) -> list[tuple[str, list]]:
    """(label, values) for W[l], b[l] of every layer (and a batch-normalized layer's gamma, beta, a dropout
    layer's mask), then X and Y, in the canonical shapes (NETWORK_LAYOUT).

    None (no network: a claim stopped by its time limit before any example finished) gives nothing."""
    if not network:
        return []
    out = []
    for l, (W, b) in enumerate(zip(network["W"], network["b"]), start=1):
        out += [(f"W[{l}]", W), (f"b[{l}]", b)]
        for name in ("gamma", "beta", "mask"):  # hidden layers only: their lists stop before the output layer
            if l <= len(network.get(name, ())):
                out.append((f"{name}[{l}]", network[name][l - 1]))
    return out + [("X", network["X"]), ("Y", network["Y"])]


# the layout network_matrices' arrays are in, whatever a claim's convention (a row claim's v.W[l] is W[l]'s transpose)
NETWORK_LAYOUT = ("canonical layout: W[l] (out, in), b[l] (out,), X and Y one sample per row; "
                  "a claim's view has them in its convention")


def compared_matrices(counterexample: dict) -> list[tuple[str, list]]:
    """(label, values) for the manual value of the quantity and each oracle's, side by side."""
    q = counterexample["quantity"]
    out = [] if counterexample.get("manual") is None else [(f"manual {q}", counterexample["manual"])]
    return out + [(f"{name} {q}", values) for name, values in (counterexample.get("oracles") or {}).items()]


def marked_cell(cells: list[list[str]], index) -> tuple:
    """(row, column) of the entry `index` points at in `cells` (a vector is one row), or (None, None)."""
    if index is None or len(index) not in (1, 2) or (len(index) == 1 and len(cells) != 1):
        return None, None
    row, column = (0, index[0]) if len(index) == 1 else tuple(index)
    if row < len(cells) and column < len(cells[row]):
        return row, column
    return None, None


def text_block(label: str, values, index=None) -> list[str]:
    """A matrix as aligned text lines under its label; the entry at `index` is marked with '*'."""
    cells = matrix_cells(values)
    row, column = marked_cell(cells, shown_index(values, index))
    if row is not None:
        cells[row][column] += "*"
    width = max((len(c) for row in cells for c in row), default=1)
    lines = [" ".join(c.rjust(width) for c in row) for row in cells]
    header = f"{label} {shape_text(values)}"
    return [header] + ([bounded_text(values)] if is_bounded(values) else []) + lines


def side_by_side(blocks: list[list[str]], gap: int = 4) -> list[str]:
    """Text blocks placed next to each other, each padded to its own width (none: no lines)."""
    if not blocks:
        return []
    widths = [max(len(line) for line in block) for block in blocks]
    height = max(len(block) for block in blocks)
    lines = []
    for i in range(height):
        parts = [(block[i] if i < len(block) else "").ljust(w) for block, w in zip(blocks, widths)]
        lines.append((" " * gap).join(parts).rstrip())
    return lines
