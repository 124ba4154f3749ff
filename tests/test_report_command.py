"""`backprop-audit report` around the renderers, on hand-made results (the catalog run is replaced by
the fixture): which files it writes, that they are replaced together or not at all, the CI step
summary, the exit code, and the progress line."""
import io
import json
import os
import time
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


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def entry(formula_id, verdict="holds", matches=True, examples=40):
    return {"id": formula_id, "verdict": verdict, "matches_expectation": matches, "examples": examples,
            "expected": "holds" if verdict == "holds" else "erratum"}


def test_progress_on_a_terminal_ticks_while_a_formula_runs_and_names_it(monkeypatch):
    monkeypatch.setattr(progress.shutil, "get_terminal_size", lambda fallback: os.terminal_size((200, 24)))
    stream, clock = Terminal(), Clock()
    live = progress.LiveLine(3, stream, clock, redraw_seconds=0.01)
    try:
        live.started("first")
        clock.now += 4.0  # four seconds into the first formula, nothing reported by the run meanwhile
        deadline = time.monotonic() + 10
        while "4.0 s elapsed" not in stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "\r\x1b[2Kbackprop-audit: 0/3 formulas, 0 examples, 0 fail or error (0 unexpected), " \
               "4.0 s elapsed · checking first" in stream.getvalue()  # drawn by the timer thread
        live.finished(entry("first", "fails", matches=False))
        live.started("second")
        clock.now += 2.0
        live.finished(entry("second"))
        line = stream.getvalue().rsplit("\r\x1b[2K", 1)[1]
        assert line == ("backprop-audit: 2/3 formulas, 80 examples, 1 fail or error (1 unexpected), 6.0 s elapsed, "
                        "~3.0 s left")
        live.phase("writing reports")
        assert stream.getvalue().rsplit("\r\x1b[2K", 1)[1].endswith("~3.0 s left · writing reports")
    finally:
        live.close()
    assert not live._thread.is_alive()
    final = stream.getvalue()
    assert final.endswith("6.0 s elapsed, ~3.0 s left\n") and final.count("\n") == 1  # one line, ended once
    time.sleep(0.05)
    assert stream.getvalue() == final  # nothing drawn after close()


def test_progress_in_ci_prints_one_plain_line_per_formula_and_phase():
    stream, clock = Terminal(), Clock()
    plain = progress.progress_printer(2, stream, environ={"CI": "true"}, clock=clock)
    plain.started("first")
    clock.now += 3.0
    plain.finished(entry("first", "error", matches=False, examples=7))
    plain.started("second")
    clock.now += 1.0
    plain.finished(entry("second"))
    plain.phase("writing reports")
    plain.close()
    assert stream.getvalue().splitlines() == [
        "backprop-audit: [1/2] first: error — expected erratum (7 examples; 1 fail or error so far, 1 unexpected; "
        "3.0 s elapsed, ~3.0 s left)",
        "backprop-audit: [2/2] second: holds (40 examples; 1 fail or error so far, 1 unexpected; 4.0 s elapsed)",
        "backprop-audit: writing reports (4.0 s elapsed)"]
    assert "\x1b" not in stream.getvalue() and "\r" not in stream.getvalue()


@pytest.mark.parametrize("stream, environ", [(io.StringIO(), {}), (Terminal(), {"CI": "true"})])
def test_progress_is_plain_lines_in_a_pipe_and_in_ci(stream, environ):
    assert type(progress.progress_printer(1, stream, environ=environ)) is progress.PlainLines


def test_progress_on_a_terminal_is_the_live_line():
    live = progress.progress_printer(1, Terminal(), environ={})
    live.close()
    assert type(live) is progress.LiveLine


def test_the_run_reports_each_formula_to_the_progress(monkeypatch):
    import backprop_audit.verdicts.run as run_module

    heard = []

    class Listener:
        def started(self, formula_id):
            heard.append(("started", formula_id))

        def finished(self, entry):
            heard.append(("finished", entry["id"]))

    monkeypatch.setattr(run_module, "report_entry", lambda result: {"id": result.id})
    monkeypatch.setattr(run_module, "environment", lambda dtypes: {})
    formulas = [SimpleNamespace(id="a", corrects=None), SimpleNamespace(id="b", corrects=None)]
    audited = lambda formula, **options: SimpleNamespace(id=formula.id, diagnosis=None, corrected_by=None)
    run_module.run(formulas, progress=Listener(), audit_formula=audited)
    assert heard == [("started", "a"), ("finished", "a"), ("started", "b"), ("finished", "b")]


def test_the_command_says_when_it_writes_the_reports(tmp_path, fake_run, capsys):
    cli.main(["report", "--out", str(tmp_path / "out")])
    assert isinstance(fake_run["progress"], progress.PlainLines)  # stderr is not a terminal here
    assert capsys.readouterr().err.splitlines()[-1].startswith("backprop-audit: writing reports (")


def test_a_corrected_record_runs_without_its_erratum_and_an_erratum_with_it_is_linked(monkeypatch):
    """`report --only <a corrected record>` (its erratum not selected) once raised in link_corrections;
    a run links an erratum to its corrected record only when both run."""
    import backprop_audit.verdicts.run as run_module
    from backprop_audit.manual import catalog

    corrected = next(f for f in catalog() if f.corrects)
    erratum = next(f for f in catalog() if f.id == corrected.corrects)
    linked = {}

    def audited(formula, *, corrected_by, **options):
        linked[formula.id] = corrected_by
        return SimpleNamespace(id=formula.id, diagnosis=None, corrected_by=corrected_by)

    monkeypatch.setattr(run_module, "report_entry", lambda result: {"id": result.id})
    monkeypatch.setattr(run_module, "environment", lambda dtypes: {})
    assert [f["id"] for f in run_module.run([corrected], audit_formula=audited)["formulas"]] == [corrected.id]
    assert linked == {corrected.id: None}
    run_module.run([erratum], audit_formula=audited)
    assert linked[erratum.id] is None
    run_module.run([erratum, corrected], audit_formula=audited)
    assert linked == {erratum.id: corrected.id, corrected.id: None}
