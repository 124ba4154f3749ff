"""report.html's order and filter: the groups the formulas are shown in, and a filter with no script.

Order: the formulas whose verdict differs from their expectation come first, then the errata (they fail
or cannot be evaluated, as expected), then the formulas that hold — what a reader came for is on top.

The filter is two groups of radio buttons (verdict, document) placed before <main>, visually hidden,
with their labels inside the page; CSS's `#a:checked ~ main .item:not(.x) { display: none }` hides the
rest. Sibling selectors work in every browser (no :has()), and with CSS off every formula is shown.
What CSS cannot compute — how many formulas a combination shows, which groups it leaves empty — is
known when the page is written: one rule per (verdict, document) pair, a few dozen in all.
"""
from __future__ import annotations

from html import escape

from backprop_audit.verdicts.vocabulary import Verdict

GROUPS = (("differences", "Verdicts that differ from the expectation"),
          ("errata", "Errata: formulas that fail, as expected"),
          ("hold", "Formulas that hold"))
VERDICT_OPTIONS = (("all", "all"), ("differs", "differs from expectation"), (Verdict.FAILS.value, "fails"),
                   (Verdict.ERROR.value, "error"), (Verdict.HOLDS.value, "holds"))


def group_of(formula: dict) -> str:
    if not formula["matches_expectation"]:
        return "differences"
    return "hold" if formula["verdict"] == Verdict.HOLDS else "errata"


def in_page_order(formulas: list[dict]) -> list[tuple[str, str, list[dict]]]:
    """(group id, title, formulas) for every group that has formulas, in the catalog's order within."""
    grouped = [(key, title, [f for f in formulas if group_of(f) == key]) for key, title in GROUPS]
    return [group for group in grouped if group[2]]


def documents(formulas: list[dict]) -> list[str]:
    return sorted({f["source"]["document"] for f in formulas})


def _matches(formula: dict, verdict: str, document: str | None) -> bool:
    by_verdict = (verdict == "all" or (verdict == "differs" and not formula["matches_expectation"])
                  or formula["verdict"] == verdict)
    return by_verdict and document in (None, formula["source"]["document"])


def item_classes(formula: dict, docs: list[str]) -> str:
    """The classes the filter's rules test, on a summary row and on a section alike."""
    extra = "" if formula["matches_expectation"] else " differs"
    return f"item is-{escape(formula['verdict'])} in-d{docs.index(formula['source']['document'])}{extra}"


def controls(docs: list[str]) -> tuple[str, str]:
    """(the radio inputs, for the top of <body>; the fieldsets of their labels, for the page)."""
    verdicts = [(f"fv-{key}", text) for key, text in VERDICT_OPTIONS]
    documents_ = [("fd-all", "all documents")] + [(f"fd-{i}", doc) for i, doc in enumerate(docs)]
    inputs = "".join(f'<input type="radio" class="filter" name="{name}" id="{key}"{" checked" if i == 0 else ""}>'
                     for name, options in (("verdict", verdicts), ("document", documents_))
                     for i, (key, _) in enumerate(options))

    def fieldset(legend, options):
        labels = "".join(f'<label for="{key}">{escape(text)}</label>' for key, text in options)
        return f"<fieldset><legend>{legend}</legend>{labels}</fieldset>"

    return inputs, fieldset("Verdict", verdicts) + fieldset("Document", documents_)


def css(formulas: list[dict], docs: list[str]) -> str:
    """The filter's rules: hiding, the chosen label's look, and per combination the count and empty groups."""
    verdict_keys = [key for key, _ in VERDICT_OPTIONS]
    document_keys = ["all"] + [str(i) for i in range(len(docs))]
    rules = []
    for key in verdict_keys + [f"d{k}" for k in document_keys]:
        radio = f"#fv-{key}" if not key.startswith("d") else f"#fd-{key[1:]}"
        rules.append(f'{radio}:checked ~ main label[for="{radio[1:]}"] {{ background: #1d1d1f; color: #fff; }}')
        rules.append(f'{radio}:focus-visible ~ main label[for="{radio[1:]}"] {{ outline: 2px solid #6a5acd; }}')
    hidden = [f"#fv-{key}:checked ~ main .item:not(.is-{key})" for key in verdict_keys if key not in ("all", "differs")]
    hidden += ["#fv-differs:checked ~ main .item:not(.differs)"]
    hidden += [f"#fd-{i}:checked ~ main .item:not(.in-d{i})" for i in range(len(docs))]
    rules.append(",\n".join(hidden) + " { display: none; }")
    groups = in_page_order(formulas)
    for verdict in verdict_keys:
        for document in document_keys:
            chosen = f"#fv-{verdict}:checked ~ #fd-{document}:checked ~ main"
            name = None if document == "all" else docs[int(document)]
            shown = [f for f in formulas if _matches(f, verdict, name)]
            rules.append(f'{chosen} .shown::after {{ content: "{len(shown)} of {len(formulas)} formulas shown"; }}')
            empty = [key for key, _, members in groups if not any(_matches(f, verdict, name) for f in members)]
            rules += [f"{chosen} .group-{key} {{ display: none; }}" for key in empty]
            if not shown:
                rules.append(f"{chosen} .none-shown {{ display: block; }}")
    return "\n".join(rules)
