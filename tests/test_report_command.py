"""`backprop-audit report` around the renderers, on hand-made results (the catalog run is replaced by
the fixture): which files it writes, that they are replaced together or not at all, the CI step
summary, the exit code, and the progress line."""
import io
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

from backprop_audit.commands import cli
from backprop_audit.commands import report as command_report
from backprop_audit.commands import progress
from backprop_audit.reports.write import write_report_set

FIXTURE = Path(__file__).with_name("test_report_fixture.json")


@pytest.fixture
def report():
    return json.loads(FIXTURE.read_text())


@pytest.fixture
def fake_run(monkeypatch, report):
    """The command with the fixture in place of the catalog run; records the progress callback."""
    import backprop_audit.manual
    import backprop_audit.verdicts.run

    calls = {}
    formulas = [SimpleNamespace(id=f["id"]) for f in report["formulas"]]
    monkeypatch.setattr(backprop_audit.manual, "catalog", lambda: formulas)

    def run(selected, **options):
        calls.update(options, selected=[f.id for f in selected])
        return report

    monkeypatch.setattr(backprop_audit.verdicts.run, "run", run)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return calls


def leftovers(folder: Path):
    """Temporary files, a swap's journal or staging folders (reports/write.py) left in `folder`."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".backprop-audit"))


def test_the_command_writes_every_report_and_exits_1_when_a_verdict_differs(tmp_path, fake_run):
    junit = tmp_path / "junit" / "backprop-audit.xml"
    code = cli.main(["report", "--out", str(tmp_path / "out"), "--junit", str(junit), "--examples", "3"])
    assert code == 1  # fx-error was expected to hold
    assert fake_run["examples"] == 3 and fake_run["selected"] == ["fx-holds", "fx-erratum", "fx-corrected", "fx-error"]
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["REPORT.md", "report.html", "report.json"]
    assert json.loads((out / "report.json").read_text())["formulas"][1]["diagnosis"].startswith("holds when")
    assert (out / "REPORT.md").read_text().startswith("# backprop-audit report")
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert len(list(ET.parse(junit).iter("testcase"))) == 4
    umask = os.umask(0)
    os.umask(umask)
    assert (out / "REPORT.md").stat().st_mode & 0o777 == 0o666 & ~umask  # as open() makes it, not mkstemp's 0600
    assert leftovers(out) == []


def test_the_command_appends_the_summary_table_for_github_actions(tmp_path, fake_run, monkeypatch):
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    cli.main(["report", "--out", str(tmp_path / "out")])
    text = summary.read_text()
    assert text.startswith("earlier step\n## backprop-audit\n")
    assert "| fx-erratum | doc\\_b.txt | **fails** |" in text  # no links: the sections are not on that page
    assert "| fx-error | doc\\_c.txt | **error** | holds | NO |" in text


def test_a_renderer_failing_midway_leaves_the_previous_reports_in_place(tmp_path, fake_run, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    previous = {name: f"previous {name}\n" for name in ("REPORT.md", "report.json", "report.html")}
    for name, text in previous.items():
        (out / name).write_text(text)

    def broken(report):
        raise RuntimeError("renderer broke halfway")

    monkeypatch.setattr(command_report, "render_html", broken)
    with pytest.raises(RuntimeError, match="halfway"):
        cli.main(["report", "--out", str(out), "--junit", str(out / "junit.xml")])
    assert {p.name: p.read_text() for p in out.iterdir()} == previous
    assert leftovers(out) == []


def test_a_write_failing_midway_replaces_none_of_the_files(tmp_path):
    first, second = tmp_path / "first.md", tmp_path / "second.json"
    first.write_text("old first")
    second.write_text("old second")
    with pytest.raises(TypeError, match="second.json"):
        write_report_set(tmp_path, {first: "new first", second: None})
    assert first.read_text() == "old first" and second.read_text() == "old second"
    assert leftovers(tmp_path) == []
    write_report_set(tmp_path, {first: "new first", second: b"new second"})
    assert first.read_text() == "new first" and second.read_text() == "new second"


def test_an_interrupt_while_the_catalog_runs_writes_nothing(tmp_path, fake_run, monkeypatch, capsys):
    import backprop_audit.verdicts.run

    def interrupted(formulas, **options):
        raise KeyboardInterrupt

    monkeypatch.setattr(backprop_audit.verdicts.run, "run", interrupted)
    assert cli.main(["report", "--out", str(tmp_path / "out")]) == 130  # the shell's code for SIGINT
    assert not (tmp_path / "out").exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted" in err  # one line, not a traceback


# --- progress -----------------------------------------------------------------------------------------

class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_on_a_terminal_rewrites_one_line_and_ends_it():
    stream = Terminal()
    show = progress.progress_printer(stream, environ={})
    show(1, 3, 40, 2.04)
    show(3, 3, 120, 7.5)
    lines = stream.getvalue().split("\r\x1b[2K")[1:]
    assert lines == ["backprop-audit: 1/3 formulas, 40 examples, 2.0 s elapsed",
                     "backprop-audit: 3/3 formulas, 120 examples, 7.5 s elapsed\n"]


@pytest.mark.parametrize("stream, environ", [(io.StringIO(), {}), (Terminal(), {"CI": "true"})])
def test_progress_is_quiet_in_a_pipe_and_in_ci(stream, environ):
    assert progress.progress_printer(stream, environ=environ) is None


def test_the_command_passes_no_progress_when_stderr_is_not_a_terminal(tmp_path, fake_run, capsys):
    cli.main(["report", "--out", str(tmp_path / "out")])
    assert fake_run["progress"] is None and capsys.readouterr().err == ""
