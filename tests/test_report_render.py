"""The renderers on hand-made results (tests/test_report_fixture.json: a formula that holds, an erratum
with counterexample, diagnosis and corrected form, the corrected form with a precondition check, and
one that raises): every part of the report is there, every text is escaped, and nothing imports
torch or jax."""
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from backprop_audit.reports import plots
from backprop_audit.reports.render_html import render_html
from backprop_audit.reports.render_json import render_json
from backprop_audit.reports.render_junit import render_junit
from backprop_audit.reports.render_markdown import render_markdown, render_summary

FIXTURE = Path(__file__).with_name("test_report_fixture.json")
CONTRACT_KEYS = {"id", "title", "source", "written", "quantity", "setting", "expected", "verdict", "examples",
                 "worst_error_ratio", "oracles_agree", "counterexample", "diagnosis", "corrected_by"}
HOSTILE_TITLE = "<script>alert(1)</script>"


@pytest.fixture
def report():
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def html():
    """report.html of the fixture, rendered once (the plots take a moment)."""
    return render_html(json.loads(FIXTURE.read_text()))


def by_id(report, formula_id):
    return next(f for f in report["formulas"] if f["id"] == formula_id)


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside each element id'd 'summary'."""

    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(html):
    parser = Tags()
    parser.feed(html)
    return parser.tags


SVG = "{http://www.w3.org/2000/svg}"


def svg_of(markup):
    """An SVG element of the page (or of plots.py), parsed: it must be well-formed XML, an <svg> in SVG's
    namespace, titled (its <title> and aria-label alike, the accessible name)."""
    root = ET.fromstring(markup)
    assert root.tag == SVG + "svg", root.tag
    title = root.find(SVG + "title")
    assert title is not None and title.text and title.text == root.get("aria-label") and root.get("role") == "img"
    return root


def svgs_of(html):
    return [svg_of(markup) for markup in re.findall(r"<svg\b.*?</svg>", html, re.S)]


def size_of(svg):
    """(width, height) of an SVG: its viewBox, which its width and height attributes repeat."""
    x, y, width, height = (float(v) for v in svg.get("viewBox").split())
    assert (x, y) == (0, 0) and (float(svg.get("width")), float(svg.get("height"))) == (width, height)
    return width, height


# --- report.json --------------------------------------------------------------------------------------

def test_json_keeps_the_contract_and_drops_the_plot_data(report):
    data = json.loads(render_json(report))
    assert data["schema"] == 2 and data["generated"] == report["generated"]
    assert {"backprop_audit", "python", "numpy", "torch", "jax", "jaxlib", "hypothesis", "dtypes"} <= set(data["environment"])
    for formula in data["formulas"]:
        assert CONTRACT_KEYS <= set(formula), CONTRACT_KEYS - set(formula)
        assert "ratios" not in formula and "failing_ratios" not in formula
        assert set(formula["source"]) == {"document", "where", "quote"}
    assert [f["id"] for f in data["formulas"]] == [f["id"] for f in report["formulas"]]


def test_json_refuses_a_nan_instead_of_writing_invalid_json(report):
    report["formulas"][0]["worst_error_ratio"] = float("nan")
    with pytest.raises(ValueError):
        render_json(report)


# --- REPORT.md ----------------------------------------------------------------------------------------

def test_markdown_summary_table_has_one_row_per_formula_with_its_numbers(report):
    summary = render_summary(report)
    rows = [line for line in summary.splitlines() if line.startswith("| [")]
    assert len(rows) == 4
    holds, erratum, corrected, error = rows
    assert "**holds**" in holds and "| 0.031 |" in holds and "| 6 |" in holds
    # An erratum shows its worst failing example (>= 1), not the best the passing examples did.
    assert "**fails**" in erratum and "| 1.4e+14 |" in erratum and "1/N" in erratum
    assert "**error**" in error and "| NO |" in error
    assert "(#fx-corrected)" in corrected


def test_markdown_sections_show_every_part(report):
    md = render_markdown(report)
    section = md.split("## fx-erratum", 1)[1].split("\n## ", 1)[0]
    assert "doc\\_b.txt, Eq. (3) &amp; \"the batch\":" in section  # citation
    assert section.count("\n> ") == 1  # the quoted sentence
    assert "````math\n\\frac{\\partial C}{\\partial z} = a - y" in section  # fence longer than the ``` inside
    assert "- verdict: **fails** (expected: erratum)" in section
    assert "float64: 5 examples, failed" in section
    assert "- torch and jax agree: yes" in section
    assert "- diagnosis: holds when multiplied by 1/N" in section
    assert "- corrected form: [fx-corrected](#fx-corrected)" in section
    # The counterexample's matrices: W, b, X, Y, then manual beside torch and jax, compared entry marked.
    assert re.search(r"W\[1\] \(2, 1\) +b\[1\] \(2\) +X \(2, 1\) +Y \(2, 2\)", section)
    assert re.search(r"manual dC/dz\[1\] \(2, 2\) +torch dC/dz\[1\] \(2, 2\) +jax dC/dz\[1\]", section)
    assert re.search(r"0\.82\* +0\.3 +0\.41\* +0\.15 +0\.41\* +0\.15", section)
    corrected = md.split("## fx-corrected", 1)[1].split("\n## ", 1)[0]
    assert ("- precondition check: outside its precondition (depth 1-3; widths 1-5; batch 1-4; hidden "
            r"sigmoid/tanh/relu/identity; output identity; loss mean\_half\_sum\_sq; targets real), over 4 "
            "examples: it fails") in corrected
    assert "Outside the precondition:" in corrected and "manual 1.0, torch -1.0" in corrected
    assert "- corrects: [fx-erratum](#fx-erratum)" in corrected


def test_a_report_of_a_selection_links_only_to_the_formulas_it_holds(report):
    """`report --only fx-corrected`: its erratum is not in the report, so no link points nowhere."""
    report["formulas"] = [f for f in report["formulas"] if f["id"] == "fx-corrected"]
    md, html = render_markdown(report), render_html(report)
    assert "- corrects: fx-erratum (not in this report)" in md and "(#fx-erratum)" not in md
    assert "<dd>fx-erratum (not in this report)</dd>" in html and 'href="#fx-erratum"' not in html


def test_markdown_escapes_record_text(report):
    md = render_markdown(report)
    assert HOSTILE_TITLE not in md and "<b>" not in md
    assert "**Missing mean &lt;script&gt;alert(1)&lt;/script&gt; &amp; friends**" in md
    assert "a note with a\\_1 \\* b\\_2" in md  # not emphasis


# --- report.html --------------------------------------------------------------------------------------

def test_html_is_self_contained(html):
    found = tags(html)
    assert not [t for t, _ in found if t in ("script", "link", "iframe", "object", "embed")]
    assert not [a for t, a in found if "src" in a or "srcset" in a]  # no image, nothing else loaded
    # the plots are inline SVG, drawn with nothing that refers elsewhere (no <image>, <use>, xlink:href)
    assert [t for t, _ in found].count("svg") == 5
    assert not [t for t, _ in found if t in ("image", "use", "foreignobject", "feimage")]
    assert not [a for t, a in found if any(k.endswith("href") and not v.startswith("#") for k, v in a.items())]
    # the only address in the page is SVG's namespace name, which is never fetched
    assert not re.search(r"https?://|url\(|@import", html.replace(' xmlns="http://www.w3.org/2000/svg"', ""))
    policy = next(a["content"] for t, a in found if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in policy and "img-src" not in policy and "script-src" not in policy


def test_html_shows_summary_sections_plots_and_counterexample(html):
    found = tags(html)
    # what differs from its expectation first, then the errata, then what holds (catalog order within)
    sections = [a["id"] for t, a in found if t == "section" and "formula" in a.get("class", "")]
    assert sections == ["fx-error", "fx-erratum", "fx-holds", "fx-corrected"]
    summary = html.split('<table id="summary">', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'<a href="#([\w-]+)">', summary) == sections  # the table in the same order
    assert '<a href="#fx-erratum">fx-erratum</a>' in summary and "1.4e+14" in summary
    plots_ = svgs_of(html)
    assert len(plots_) == 5  # the summary figure + one per formula
    for plot in plots_:
        assert size_of(plot)[0] > 300
    assert "4 formulas" in plots_[0].get("aria-label")
    for f in json.loads(FIXTURE.read_text())["formulas"]:  # each section's histogram is titled with its formula
        section = html.split(f'id="{f["id"]}"', 1)[1].split("</section>", 1)[0]
        assert f"log scale for {f['id']}:" in svg_of(re.search(r"<svg\b.*?</svg>", section, re.S).group(0)).get("aria-label")
    erratum = html.split('id="fx-erratum"', 1)[1].split("</section>", 1)[0]
    assert '<div class="math"><math display="block"><mrow><mfrac>' in erratum  # MathML, the LaTeX beside it
    assert '<pre class="latex"><code>\\frac{\\partial C}' in erratum
    assert '<a href="#fx-corrected">fx-corrected</a>' in erratum
    assert '<td class="marked">0.82</td>' in erratum and erratum.count('<td class="marked">0.41</td>') == 2
    for label in ("W[1]", "b[1]", "X", "Y", "manual dC/dz[1]", "torch dC/dz[1]", "jax dC/dz[1]"):
        assert f'<div class="label">{label} <span' in erratum, label
    assert "loss mean_half_sum_sq; targets real), over 4 examples: it fails" in html


def test_html_escapes_record_text(html):
    assert HOSTILE_TITLE not in html and "<b>never</b>" not in html
    assert "Missing mean &lt;script&gt;alert(1)&lt;/script&gt; &amp; friends" in html
    assert "Then &quot;dividing&quot; is not needed &amp; &lt;b&gt;never&lt;/b&gt; was." in html
    assert "\\text{if } N &lt; 2 \\;\\&amp;\\;" in html
    assert "jax 0.41 &lt;&amp;&gt;" in html


def test_html_has_contents_filter_and_back_to_top_links(html):
    found = tags(html)
    contents = html.split('<nav id="contents"', 1)[1].split("</nav>", 1)[0]
    assert re.findall(r'href="#([\w-]+)"', contents) == ["filter", "summary", "summary-plot", "group-differences",
                                                         "group-errata", "group-hold"]
    radios = [a["id"] for t, a in found if t == "input" and a.get("type") == "radio"]
    assert radios == ["fv-all", "fv-differs", "fv-fails", "fv-error", "fv-holds", "fd-all", "fd-0", "fd-1", "fd-2"]
    labels = [a["for"] for t, a in found if t == "label"]
    assert labels == radios
    assert html.count('<a class="top" href="#top">') == 4 and '<main id="top">' in html
    # every section and summary row carries the classes the filter's rules test
    assert 'class="formula item is-error in-d2 differs" id="fx-error"' in html
    assert '<tr class="item is-fails in-d1">' in html


def test_html_captions_say_which_examples_a_plot_draws(report):
    # the search kept 3 of the erratum's failing examples (2 agreed); say it checked 9
    by_id(report, "fx-erratum")["examples"] = 9
    html = render_html(report)
    erratum = html.split('id="fx-erratum"', 1)[1].split("</section>", 1)[0]
    assert "Drawn: 5 of the 9 examples checked: the 2 that agree and 3 of the 7 that fail" in erratum
    assert "Drawn: all 6 examples checked" in html.split('id="fx-holds"', 1)[1].split("</section>", 1)[0]
    assert "no number to draw" in html.split('id="fx-error"', 1)[1].split("</section>", 1)[0]
    assert "Drawn: 17 of the 22 examples checked" in html.split('id="summary-plot"', 1)[1]
    assert "every example" not in html.lower()


@pytest.mark.parametrize("latex", [r"\text{<b>bold</b>}", r"\href{javascript:alert(1)}{x}", r"\text{<i>&}",
                                   r"\color{red}{x}", r"\style{x}"])
def test_a_formula_that_cannot_be_made_safe_mathml_is_shown_as_its_latex_source(report, latex):
    by_id(report, "fx-holds")["written"] = latex
    section = render_html(report).split('id="fx-holds"', 1)[1].split("</section>", 1)[0]
    assert "<math" not in section and " href=" not in section.replace(" href=\"#top\"", "")
    assert '<p>Formula as written (LaTeX source):</p><pre class="latex"><code>' in section
    assert "<b>" not in section and "<i>" not in section


def test_html_from_report_json_renders_without_plot_data(report):
    html = render_html(json.loads(render_json(report)))
    assert "<svg" not in html and "No per-example data to plot" in html


# --- plots --------------------------------------------------------------------------------------------

def bars(svg, colour):
    """The histogram's bars in that colour, as (left, right) x extents (the legend's squares are not bars)."""
    group = svg.find(f"{SVG}g[@class='bars']")
    found = [] if group is None else group.findall(f"{SVG}rect[@fill='{colour}']")
    return [(float(r.get("x")), float(r.get("x")) + float(r.get("width"))) for r in found]


def tolerance_x(svg):
    """x of the dashed line at 1: the one dashed path, "M<x> <top>V<bottom>"."""
    dashed = [p for p in svg.iter(SVG + "path") if p.get("stroke-dasharray")]
    assert len(dashed) == 1
    return float(re.match(r"M([\d.]+) ", dashed[0].get("d")).group(1))


def test_histogram_draws_failing_examples_in_red_and_passing_ones_not(report):
    holds, erratum = by_id(report, "fx-holds"), by_id(report, "fx-erratum")
    held = svg_of(plots.ratio_histogram(holds["ratios"], holds["failing_ratios"], name="fx-holds"))
    failed = svg_of(plots.ratio_histogram(erratum["ratios"], erratum["failing_ratios"], name="fx-erratum"))
    assert bars(held, plots.FAILED) == [] and bars(held, plots.PASSED)
    assert bars(failed, plots.FAILED) and bars(failed, plots.PASSED)
    # below the line at 1 what agrees, above it what fails
    assert all(right <= tolerance_x(held) for _, right in bars(held, plots.PASSED))
    assert all(right <= tolerance_x(failed) for _, right in bars(failed, plots.PASSED))
    assert all(left >= tolerance_x(failed) for left, _ in bars(failed, plots.FAILED))
    # and the title says how many of each it draws
    assert f"{len(erratum['ratios'])} examples agree" in failed.get("aria-label")
    assert f"{len(erratum['failing_ratios'])} fail" in failed.get("aria-label")
    assert f"{len(holds['ratios'])} examples agree (below the tolerance, 1), 0 fail" in held.get("aria-label")


def test_histogram_of_no_number_says_so_and_draws_no_bar(report):
    error = by_id(report, "fx-error")
    svg = svg_of(plots.ratio_histogram(error["ratios"], error["failing_ratios"], name="fx-error"))
    assert bars(svg, plots.FAILED) == [] and bars(svg, plots.PASSED) == []
    shown = [t.text for t in svg.iter(SVG + "text")]
    assert "no example gave a number" in shown and "1 failing example(s) raised or gave no value (not drawn)" in shown


def test_plots_of_extreme_ratios_stay_well_formed():
    """Exact agreement and a tiny ratio sit at the floor; a huge finite one is drawn, inf and None are not."""
    svg = svg_of(plots.ratio_histogram([0.0, 1e-300, 0.5], [1e306, float("inf"), None], name="extreme"))
    assert len(bars(svg, plots.PASSED)) == 2 and len(bars(svg, plots.FAILED)) == 1
    assert "3 examples agree (below the tolerance, 1), 1 fail" in svg.get("aria-label")
    formula = {"id": "extreme", "verdict": "fails", "ratios": [0.0, 0.5], "failing_ratios": [1e306, None]}
    assert dots(svg_of(plots.summary_figure([formula])), plots.FAILED) == 1


def dots(svg, colour):
    """The summary's dots in that colour: one zero-length line (a round-capped dot) per subpath."""
    return sum(p.get("d").count("h0") for p in svg.iter(SVG + "path")
               if p.get("class") == "dots" and p.get("stroke") == colour)


def test_summary_figure_draws_each_formula_s_examples_in_its_colours(report):
    svg = svg_of(plots.summary_figure(report["formulas"]))
    names = [t.text for t in svg.iter(SVG + "text")]
    assert [f["id"] for f in report["formulas"]] == [n for n in names if n.startswith("fx-")]
    assert 0 < dots(svg, plots.FAILED) <= sum(plots.drawn_count(f["failing_ratios"]) for f in report["formulas"])
    assert 0 < dots(svg, plots.PASSED) <= sum(len(f["ratios"]) for f in report["formulas"])
    assert "no value" in names  # the formula that raised has no number to draw
    holds_only = svg_of(plots.summary_figure([by_id(report, "fx-holds")]))
    assert dots(holds_only, plots.FAILED) == 0 and dots(holds_only, plots.PASSED) > 0


def test_summary_figure_grows_with_the_number_of_formulas(report):
    one = size_of(svg_of(plots.summary_figure(report["formulas"][:1])))
    four = size_of(svg_of(plots.summary_figure(report["formulas"])))
    assert four[1] > one[1] and four[0] == one[0]


# --- JUnit --------------------------------------------------------------------------------------------

def test_junit_has_one_case_per_formula_failing_only_where_the_verdict_differs(report):
    root = ET.fromstring(render_junit(report))
    suite = root.find("testsuite")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == ["fx-holds", "fx-erratum", "fx-corrected", "fx-error"]
    assert suite.get("tests") == "4" and suite.get("failures") == "1"
    assert [name for name, c in cases.items() if c.find("failure") is not None] == ["fx-error"]
    failure = cases["fx-error"].find("failure")
    assert "verdict error, expected the formula to hold" in failure.get("message")
    assert "diagnosis: the formula cannot be evaluated" in failure.text
    shown = cases["fx-erratum"].find("system-out").text  # verdict and diagnosis beside the pass mark
    assert "verdict: fails (expected erratum)" in shown and "1/N" in shown
    assert cases["fx-erratum"].find("system-out").text.startswith("Missing mean " + HOSTILE_TITLE + " & friends")


def test_junit_reports_an_erratum_that_holds_as_a_failure(report):
    by_id(report, "fx-erratum").update(verdict="holds", matches_expectation=False)
    cases = {c.get("name"): c for c in ET.fromstring(render_junit(report)).iter("testcase")}
    assert "expected the formula to fail" in cases["fx-erratum"].find("failure").get("message")


def test_junit_survives_characters_xml_cannot_hold(report):
    by_id(report, "fx-error")["counterexample"]["message"] = "bad \x00 byte"
    ET.fromstring(render_junit(report))  # parses


# --- purity -------------------------------------------------------------------------------------------

def test_the_report_modules_never_import_torch_jax_matplotlib_or_pillow():
    modules = [f"backprop_audit.reports.{p.stem}" for p in Path(plots.__file__).parent.glob("*.py")]
    assert "backprop_audit.reports.render_html" in modules and len(modules) >= 7
    # and renders a report with plots without a plotting or imaging library (the plots are SVG text)
    code = ("import importlib, json, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "from backprop_audit.reports.render_html import render_html\n"
            f"assert '<svg' in render_html(json.loads(open({str(FIXTURE)!r}).read()))\n"
            "print(sorted(m for m in ('torch', 'jax', 'jaxlib', 'matplotlib', 'PIL') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# --- input errors (`backprop-audit check`) ---------------------------------------------------------------

INPUT_ERRORS = [{"file": "claims/mine.py", "line": 3, "claim": None, "message": "syntax error <here>"},
                {"file": "claims/mine.py", "line": 9, "claim": "my_claim", "message": "unknown loss 'x|y'"}]


def test_input_errors_are_rendered_from_the_report_in_markdown_and_html(report):
    assert "Input errors" not in render_markdown(report)  # only a report that has some shows the section
    report["input_errors"] = INPUT_ERRORS
    markdown = render_markdown(report).split("## Input errors", 1)[1]
    assert "- claims/mine.py, line 3: syntax error &lt;here&gt;" in markdown
    assert r"- claims/mine.py, line 9: claim my\_claim: unknown loss 'x\|y'" in markdown
    html = render_html(report).split('<section id="input-errors">', 1)[1]
    assert "<li>claims/mine.py, line 3: syntax error &lt;here&gt;</li>" in html
    assert "<li>claims/mine.py, line 9: claim my_claim: unknown loss &#x27;x|y&#x27;</li>" in html


def test_a_counterexample_shows_every_array_of_its_network_and_says_their_layout():
    """γ, β of a batch-normalized layer and a dropout layer's mask were in report.json only (an outside tester
    could not read a γ slip off REPORT.md); and the arrays are canonical whatever the claim's convention."""
    from backprop_audit.model.network import Layer, Network
    from backprop_audit.reports import format as fmt
    from backprop_audit.verdicts.entry import network_dict

    one = np.ones((1, 1))
    hidden = Layer(2 * one, np.zeros(1), "tanh", gamma=np.array([0.82]), beta=np.array([0.1]), mask=np.ones((1, 1)))
    net = Network((hidden, Layer(one, np.zeros(1), "identity")), "half_sum_sq", one, one, "real",
                  dropout=0.25)
    labels = [label for label, _ in fmt.network_matrices(network_dict(net))]
    assert labels == ["W[1]", "b[1]", "gamma[1]", "beta[1]", "mask[1]", "W[2]", "b[2]", "X", "Y"]
    entry = {"network": network_dict(net), "description": "a network", "message": "m", "quantity": "dC/dW[1]"}
    from backprop_audit.reports import render_markdown as md
    assert "gamma[1]" in "\n".join(md._counterexample(entry)) and fmt.NETWORK_LAYOUT in "\n".join(md._counterexample(entry))


def test_each_dtype_says_what_its_checks_would_detect_and_a_vacuous_check_says_so():
    from backprop_audit.reports import format as fmt

    formula = {"vacuous": True, "dtypes": {
        "float64": {"examples": 100, "held": True, "worst_error_ratio": 0.01, "detects": 2.17e-14, "vacuous_examples": 0},
        "float32": {"examples": 100, "held": True, "worst_error_ratio": 0.0, "detects": 1.0, "vacuous_examples": 100}}}
    assert fmt.dtypes_text(formula) == (
        "float64: 100 examples, held, worst 0.01 × tolerance, detects a relative error ≥ 2.2e-14; "
        "float32: 100 examples, held, worst 0 × tolerance, detects a relative error ≥ 1, vacuous on 100 (there ×2 or "
        "zeros would pass); VACUOUS: ×2 or all zeros would pass these checks")


def test_the_summary_counts_each_document_s_own_formulas_apart_from_corrected_forms(report):
    """The totals' "96 hold" mixed the documents' formulas with corrected forms and reference formulas."""
    from backprop_audit.reports import format as fmt

    rows = {row["document"]: row for row in fmt.by_document(report)}
    assert rows["doc_b.txt"] == {"document": "doc_b.txt", "formulas read from it": 1, "hold": 0, "errata found": 1,
                                 "corrected forms": 1, "not as expected": 0}
    assert rows["doc_c.txt"]["not as expected"] == 1 and rows["doc_a.txt"]["hold"] == 1
    assert "| doc\\_b.txt | 1 | 0 | 1 | 1 | 0 |" in render_markdown(report)
    assert '<table id="by-document">' in render_html(report)
    # documents whose every formula holds as expected are one row when there are several
    clean = {"formulas": [{**f, "source": {**f["source"], "document": f"ref-{i}"}} for i, f in
                          enumerate([by_id(report, "fx-holds")] * 3)] + [by_id(report, "fx-erratum")]}
    assert [row["document"] for row in fmt.by_document(clean)] == ["doc_b.txt", "3 other documents (every formula holds)"]


def test_each_document_s_notation_is_shown_before_the_sections(report):
    """Document 000 numbers its layers from 0 while every diagnosis names the report's W[2] for its w[1]: the
    shift was told in its module alone (a reviewer)."""
    from backprop_audit.manual import notations
    from backprop_audit.reports import format as fmt

    assert "numbers weighted layers from 0" in notations()["000_66b432f981c9d2a4.txt"] and len(notations()) == 4
    noted = {**report, "documents": {"doc_b.txt": {"notation": "its w[0] is W[1] <here>"}}}
    md, html = render_markdown(noted), render_html(noted)
    assert f"## {fmt.NOTATION_TITLE}" in md and "- doc\\_b.txt: its w\\[0\\] is W\\[1\\] &lt;here&gt;" in md
    assert md.index(fmt.NOTATION_TITLE) < md.index("## fx-holds")
    assert '<section id="notation">' in html and "its w[0] is W[1] &lt;here&gt;" in html
    assert fmt.NOTATION_TITLE not in render_markdown(report)  # a report without documents (check's) has none
