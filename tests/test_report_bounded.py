"""Arrays in reports are bounded: a claim's output is untrusted and may be huge. An array of more than
FULL_ENTRIES entries is written as its shape, a window around the compared entry, min, max, how many
entries are not finite, and a digest (backprop_audit.verdicts.arrays); small arrays, such as every array
of the catalog's minimal counterexamples, are written in full as before. The renderers show the bounded
form, and the schema describes it."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from backprop_audit import Formula, Setting, Source
from backprop_audit.commands.report import report_files
from backprop_audit.reports import format as fmt
from backprop_audit.reports.render_html import render_html
from backprop_audit.reports.render_json import render_json
from backprop_audit.reports.render_markdown import render_markdown
from backprop_audit.verdicts.arrays import FULL_ENTRIES, WINDOW, array_data
from backprop_audit.verdicts.run import run

FIXTURE = Path(__file__).with_name("test_report_fixture.json")
HUGE = (1000, 1000)  # 8 MB of float64; written in full it made a report.json of ~20 MB


def test_a_small_array_is_written_in_full_as_before():
    a = np.arange(FULL_ENTRIES, dtype=np.float64).reshape(16, 16)
    assert array_data(a) == a.tolist()
    assert array_data(np.array([1.0, np.nan, -np.inf])) == [1.0, "nan", "-inf"]
    assert array_data(np.float64(2.5)) == 2.5


def test_a_large_array_is_its_shape_a_window_around_the_entry_extremes_and_a_digest():
    a = np.arange(40 * 50, dtype=np.float32).reshape(40, 50)
    a[3, 7] = np.nan
    bounded = array_data(a, around=(20, 48))
    assert bounded["shape"] == [40, 50] and bounded["entries"] == 2000 and bounded["dtype"] == "float32"
    start = [20 - WINDOW // 2, 50 - WINDOW]  # centred on the row; shifted to fit inside the last column
    assert bounded["window"] == {"start": start, "values": a[16:24, 42:50].astype(np.float64).tolist()}
    assert (bounded["min"], bounded["max"], bounded["nonfinite"]) == (0.0, 1999.0, 1)
    recipe = hashlib.blake2b(np.ascontiguousarray(a, "<f8").tobytes(), digest_size=16).hexdigest()
    assert bounded["digest"] == "blake2b-128:" + recipe
    assert array_data(a + 1)["digest"] != bounded["digest"]


@pytest.mark.parametrize("around", [None, (40, 0), (1, 2, 3)], ids=["none", "outside", "other-rank"])
def test_without_an_entry_inside_the_array_the_window_is_at_the_origin(around):
    bounded = array_data(np.zeros((40, 50)), around=around)
    assert bounded["window"]["start"] == [0, 0] and np.shape(bounded["window"]["values"]) == (WINDOW, WINDOW)


def test_a_window_of_more_than_two_axes_holds_one_entry_on_the_leading_axes():
    a = np.random.default_rng(0).normal(size=(5, 30, 30))
    bounded = array_data(a, around=(2, 10, 10))
    assert bounded["window"]["start"] == [2, 6, 6]
    assert np.shape(bounded["window"]["values"]) == (1, WINDOW, WINDOW)
    assert fmt.matrix_cells(bounded)[4][4] == fmt.number(a[2, 10, 10])


def test_an_array_of_no_finite_entry_has_no_extremes():
    bounded = array_data(np.full(300, np.inf))
    assert bounded["min"] is None and bounded["max"] is None and bounded["nonfinite"] == 300


def _with_bounded_manual(report: dict) -> tuple[dict, np.ndarray]:
    """The fixture with its erratum's manual value replaced by a bounded 40x40 array, compared at (20, 30)."""
    values = np.random.default_rng(1).normal(size=(40, 40))
    counterexample = next(f for f in report["formulas"] if f["counterexample"])["counterexample"]
    counterexample["manual"], counterexample["index"] = array_data(values, around=(20, 30)), [20, 30]
    return report, values


def test_markdown_and_html_show_the_window_the_shape_the_digest_and_mark_the_entry():
    report, values = _with_bounded_manual(json.loads(FIXTURE.read_text()))
    bounded = next(f for f in report["formulas"] if f["counterexample"])["counterexample"]["manual"]
    marked = fmt.number(values[20, 30]) + "*"
    markdown = render_markdown(report)
    assert "(40, 40)" in markdown and "too large to show: entries [16:24, 26:34] of 1600" in markdown
    assert bounded["digest"] in markdown and marked in markdown
    html = render_html(report)
    assert "(40, 40)" in html and bounded["digest"] in html
    assert f'<td class="marked">{fmt.number(values[20, 30])}</td>' in html


def test_the_schema_describes_the_bounded_form(report_schema, schema_problems):
    report, _ = _with_bounded_manual(json.loads(FIXTURE.read_text()))
    assert schema_problems(report) == []
    bounded = report_schema.schema["$defs"]["bounded_array"]
    assert bounded["properties"]["entries"]["minimum"] == FULL_ENTRIES + 1
    counterexample = next(f for f in report["formulas"] if f["counterexample"])["counterexample"]
    del counterexample["manual"]["digest"]
    assert schema_problems(report), "a bounded array without its digest was accepted"


def huge(view):
    return np.full(HUGE, 0.5)


def test_a_claim_returning_a_huge_wrong_shape_array_gives_a_small_report(tmp_path, schema_problems):
    claim = Formula(id="huge-wrong-shape", title="a huge wrong-shape return", source=Source("test", "here", "-"),
                    written="-", convention="column", quantity="dC/dz[L]",
                    setting=Setting(depth=(1, 1), width=(1, 2), batch=(1, 2), output=("identity",),
                                    loss=("half_sum_sq",)), compute=huge)
    report = run([claim], examples=2, dtypes=("float64",))
    files = {path.name: text for path, text in report_files(report, tmp_path).items()}
    assert len(files["report.json"]) < 100_000 and len(files["REPORT.md"]) < 100_000
    assert len(files["report.html"]) < 1_000_000
    written = json.loads(files["report.json"])
    assert schema_problems(written) == []
    counterexample = written["formulas"][0]["counterexample"]
    assert f"shape {HUGE}" in counterexample["message"]
    assert counterexample["manual"]["shape"] == list(HUGE) and counterexample["manual"]["min"] == 0.5
    assert "too large to show" in files["REPORT.md"] and "too large to show" in files["report.html"]
