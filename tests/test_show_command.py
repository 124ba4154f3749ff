"""`backprop-audit show` prints a written report's sections and never writes; `--version` works."""
import json
import shutil
from pathlib import Path

import pytest

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
