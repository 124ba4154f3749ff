"""`backprop-audit show` prints a written report's sections and never writes; `--version` works."""
import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from backprop_audit.commands import cli

FIXTURE = Path(__file__).parent / "test_report_fixture.json"


def test_show_prints_the_section_and_writes_nothing(tmp_path, capsys):
    shutil.copy(FIXTURE, tmp_path / "report.json")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert cli.main(["show", "fx-erratum", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "## fx-erratum" in out and "verdict: **fails**" in out and "Minimal counterexample" in out
    assert "## fx-holds" not in out
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_show_prints_text_as_written_and_code_as_it_is(tmp_path, capsys):
    """On a terminal the Markdown's escapes are noise: the title "Missing mean <script>alert(1)</script> & friends"
    and the setting's "half_sum_sq" print as written, the code blocks as REPORT.md has them."""
    from backprop_audit.reports.render_markdown import render_formula

    shutil.copy(FIXTURE, tmp_path / "report.json")
    assert cli.main(["show", "fx-erratum", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    formula = next(f for f in json.loads(FIXTURE.read_text())["formulas"] if f["id"] == "fx-erratum")
    assert f"**{formula['title']}**" in out
    markdown = render_formula(formula)
    assert "&lt;script&gt;" in markdown and "&lt;" not in out  # the report's Markdown escapes, the terminal's not
    escaped = [line for line in _outside_fences(out) if re.search(r"\\[\\`*_\[\]|#~$]", line)]
    assert escaped == [], escaped
    assert _fenced(out) == _fenced(markdown)  # the blocks (the formula, the counterexample) unchanged


def _fenced(text: str) -> list[str]:
    return re.findall(r"^(`{3,}).*?\n(.*?)^\1$", text, re.S | re.M)


def _outside_fences(text: str) -> list[str]:
    return re.sub(r"^(`{3,}).*?^\1$", "", text, flags=re.S | re.M).splitlines()


@given(st.text(), st.text(st.characters(blacklist_characters="`\n"), min_size=1))
def test_for_terminal_undoes_what_markdown_text_escaped_and_keeps_code_spans(value, code):
    from backprop_audit.reports.render_markdown import for_terminal, text

    assert for_terminal(text(value)) == value
    assert for_terminal(f"`{code}` and {text(value)}") == f"`{code}` and {value}"  # a code span is never escaped


def test_for_terminal_can_fail():
    from backprop_audit.reports.render_markdown import for_terminal

    assert for_terminal("z\\[2\\] &lt;b&gt;") == "z[2] <b>"
    assert for_terminal("`z\\[2\\]`") == "`z\\[2\\]`"


def test_show_unknown_id_or_missing_report_is_exit_2(tmp_path, capsys):
    shutil.copy(FIXTURE, tmp_path / "report.json")
    assert cli.main(["show", "no-such-formula", "--out", str(tmp_path)]) == 2
    assert "has no formula 'no-such-formula'" in capsys.readouterr().err
    assert cli.main(["show", "fx-erratum", "--out", str(tmp_path / "nothing")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_a_report_of_another_schema_is_exit_2_not_misread(tmp_path, capsys):
    """A report.json an older version wrote (schema 1: setting as text) is refused in one line."""
    report = json.loads(FIXTURE.read_text())
    report["schema"], report["formulas"][1]["setting"] = 1, "depth 1-3; batch 1-4"
    (tmp_path / "report.json").write_text(json.dumps(report))
    assert cli.main(["show", "fx-erratum", "--out", str(tmp_path)]) == 2
    assert "follows report schema 1, this version reads 2: write the report again" in capsys.readouterr().err


def test_version(capsys):
    from backprop_audit import __version__

    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"backprop-audit {__version__}"
