"""`backprop-audit check` end to end: exit codes, messages naming file, line and claim, and the report
written even when some input is bad. Few examples, float64 only, to stay fast.

The command runs in this process (cli.main with stdout and stderr captured, SystemExit turned into the
exit status as the interpreter would), so torch, jax and the JAX compiles are paid once per worker, not
once per command. One test runs the real entry point in a fresh interpreter instead, so the path from
`python -m backprop_audit.commands.cli` to the process's exit status stays covered (a usage error, 2). The
claims that break at run time include one that never finishes: its time limit is a SIGALRM timer, which
needs the main thread, so that test runs in a fresh interpreter if it is ever run outside it."""
import contextlib
import functools
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import jsonschema
import pytest

import backprop_audit
from backprop_audit.commands import cli
from backprop_audit.verdicts.entry import REPORT_SCHEMA

# Every test that runs `check` in a pytest process (this module, test_check_isolation.py, test_instrument_fault.py's)
# runs on one pytest-xdist worker: that worker's one zygote (commands/zygote.py: an interpreter importing torch and jax,
# ~3.5 s of CPU) forks all their claims workers, where two workers each started their own.
pytestmark = pytest.mark.xdist_group("check-runs")

CLAIMS = Path(__file__).parent / "claims"  # malformed claims files, test assets
WORKED_EXAMPLE = Path(backprop_audit.__file__).parent / "examples" / "nielsen_book.py"
FAST = ["--examples", "2", "--dtypes", "float64"]


def command_line(args, out):
    return ["check", *map(str, args)] + (["--out", str(out)] if out is not None else [])


def check(*args, out=None):
    """Run `backprop-audit check ARGS` in this process; .returncode, .stdout and .stderr as from a subprocess."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = cli.main(command_line(args, out))
        except SystemExit as exit:  # argparse's usage errors, NoOracleAvailable: what sys.exit would make of it
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
            if not isinstance(exit.code, (int, type(None))):
                print(exit.code, file=sys.stderr)
        except Exception:  # an uncaught exception: the interpreter would print it and exit 1
            traceback.print_exc()
            code = 1
    return SimpleNamespace(returncode=code, stdout=stdout.getvalue(), stderr=stderr.getvalue())


def check_in_subprocess(*args, out=None):
    """The same command through the real entry point in a fresh interpreter (its sys.exit, its exit status)."""
    command = [sys.executable, "-m", "backprop_audit.commands.cli", *command_line(args, out)]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def report_of(out: Path) -> dict:
    """The report.json `check` wrote to `out`, after checking it follows the schema (and REPORT.md is there)."""
    assert (out / "REPORT.md").is_file()
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    return report


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


# Tests that read the same run share it (cached per process: each run forks a claims worker): the worked
# example with --junit and a step summary, and a run where no file loads.


@functools.cache
def worked_example_run() -> SimpleNamespace:
    """`check` on the worked example (3 networks, float64, seed 7) with --junit and GITHUB_STEP_SUMMARY set."""
    folder = Path(tempfile.mkdtemp(prefix="check-worked-"))
    out, junit, summary = folder / "out", folder / "junit" / "check.xml", folder / "step-summary.md"
    with mock.patch.dict(os.environ, {"GITHUB_STEP_SUMMARY": str(summary)}):
        done = check(WORKED_EXAMPLE, "--examples", "3", "--dtypes", "float64", "--seed", "7", "--junit", junit, out=out)
    return SimpleNamespace(done=done, out=out, junit=junit, summary=summary)


def test_the_worked_example_exits_0_and_names_the_slip():
    run = worked_example_run()
    done, out = run.done, run.out
    assert done.returncode == 0, done.stderr
    report = report_of(out)
    verdicts = {f["id"]: f["verdict"] for f in report["formulas"]}
    assert verdicts.pop("nielsen-BP1-as-first-copied") == "fails"
    assert set(verdicts.values()) == {"holds"} and len(verdicts) == 7  # BP1-BP4 and the user's code
    slip = next(f for f in report["formulas"] if f["id"] == "nielsen-BP1-as-first-copied")
    assert "σ'(a) for σ'(z)" in slip["diagnosis"]
    assert slip["counterexample"]["reproduce"].startswith(f"backprop-audit check {WORKED_EXAMPLE} --only")
    assert report["settings"]["seed"] == 7 and report["input_errors"] == []
    assert "nielsen-BP1-as-first-copied" in (out / "REPORT.md").read_text()


def test_junit_and_the_github_step_summary_are_written_and_the_wrote_line_names_every_file():
    import xml.etree.ElementTree as ET

    import xmlschema

    run = worked_example_run()
    done, out, junit = run.done, run.out, run.junit
    assert done.returncode == 0, done.stderr
    xmlschema.XMLSchema(Path(__file__).with_name("junit-10.xsd")).validate(str(junit))
    claims = [f["id"] for f in report_of(out)["formulas"]]  # one test case per claim, in the report's order
    assert [case.get("name") for case in ET.parse(junit).iter("testcase")] == claims
    assert "nielsen-BP1-as-first-copied" in claims
    assert "| nielsen-BP1-as-first-copied |" in run.summary.read_text()
    assert done.stdout.startswith(f"wrote {out / 'REPORT.md'}, {out / 'report.json'}, {out / 'report.html'}, {junit}: ")


@functools.cache
def nothing_loads_run() -> SimpleNamespace:
    """`check` on a missing file, a syntax error and an import error, with an --only id no claim has."""
    folder = Path(tempfile.mkdtemp(prefix="check-unloadable-"))
    missing = folder / "no_such_claims.py"
    done = check(missing, CLAIMS / "bad_syntax.py", CLAIMS / "bad_import.py", "--only", "no-such-claim",
                 out=folder / "out")
    return SimpleNamespace(done=done, out=folder / "out", missing=missing)


def test_files_that_cannot_load_exit_2_naming_path_and_line_and_the_report_is_written():
    run = nothing_loads_run()
    done, missing = run.done, run.missing
    assert done.returncode == 2
    assert f"{missing}: no such file" in done.stderr
    assert f"bad_syntax.py, line {line_of(CLAIMS / 'bad_syntax.py', 'def output_error')}: syntax error" in done.stderr
    assert (f"bad_import.py, line {line_of(CLAIMS / 'bad_import.py', 'backprop_that_does_not_exist')}: cannot import"
            in done.stderr)
    report = report_of(run.out)
    assert report["formulas"] == []
    assert sorted(e["file"] for e in report["input_errors"]) == sorted(
        [str(missing), str(CLAIMS / "bad_syntax.py"), str(CLAIMS / "bad_import.py"), "--only"])
    assert "## Input errors" in (run.out / "REPORT.md").read_text()
    html = (run.out / "report.html").read_text().split('<section id="input-errors">', 1)[1]
    assert f"{missing}: no such file" in html and "bad_import.py, line" in html  # HTML has the section too


def test_bad_records_exit_2_and_every_valid_claim_still_runs(tmp_path):
    bad = CLAIMS / "bad_records.py"
    done = check(WORKED_EXAMPLE, bad, "--only", "bad-records-valid,nielsen-BP3", *FAST, out=tmp_path)
    assert done.returncode == 2
    for claim, what in [("bad-records-unknown-quantity", "unknown quantity 'dC/dw[L]'"),
                        ("bad-records-unknown-activation", "['softplus']"),
                        ("bad-records-unknown-loss", "['cross_entropy']"),
                        ("nielsen-BP1", "duplicate id: already defined in")]:
        line = line_of(bad, f'claim("{claim}"')
        assert f"{bad}, line {line}: claim {claim}: " in done.stderr and what in done.stderr
    assert f"{bad}: claim #5 of CLAIMS: is a str, not a Formula" in done.stderr
    report = report_of(tmp_path)
    assert {f["id"]: f["verdict"] for f in report["formulas"]} == {"nielsen-BP3": "holds", "bad-records-valid": "holds"}
    assert len(report["input_errors"]) == 6


def _run_time_check(tmp_path, *args):
    # the time limit is a SIGALRM timer, which needs the main thread (pytest and its xdist workers run tests
    # there); anywhere else the claim that never finishes would never be stopped in this process
    run = check if threading.current_thread() is threading.main_thread() else check_in_subprocess
    done = run(CLAIMS / "bad_runtime.py", *FAST, *args, out=tmp_path)
    return done, {f["id"]: f for f in report_of(tmp_path)["formulas"]}


def test_claims_that_break_at_run_time_are_error_verdicts_and_exit_1(tmp_path):
    done, entries = _run_time_check(tmp_path, "--only", "runtime-raises,runtime-wrong-shape,runtime-wrong-dtype,"
                                                        "runtime-nan,runtime-valid")
    assert done.returncode == 1, done.stderr
    expected_messages = {"runtime-raises": "raised IndexError", "runtime-wrong-shape": "shape (",
                         "runtime-wrong-dtype": "dtype float32, expected float64", "runtime-nan": "non-finite"}
    for claim, message in expected_messages.items():
        assert entries[claim]["verdict"] == "error" and not entries[claim]["matches_expectation"]
        assert message in entries[claim]["counterexample"]["message"], entries[claim]["counterexample"]["message"]
    assert entries["runtime-valid"]["verdict"] == "holds" and entries["runtime-valid"]["examples"] == 2


def test_a_claim_that_never_finishes_is_stopped_at_its_time_limit_and_the_run_goes_on(tmp_path):
    # 1 s: runtime-too-long takes all of it by design; runtime-valid, checked after it on 2 networks, takes
    # ~0.05 s (the JAX compiles happen before any claim's clock: warm_oracles)
    done, entries = _run_time_check(tmp_path, "--only", "runtime-too-long,runtime-valid", "--time-limit", "1")
    assert done.returncode == 1, done.stderr
    stopped = entries["runtime-too-long"]
    assert stopped["verdict"] == "error" and not stopped["matches_expectation"]
    assert "time limit" in stopped["counterexample"]["message"], stopped["counterexample"]["message"]
    assert 1 <= stopped["seconds"] < 60
    assert entries["runtime-valid"]["verdict"] == "holds" and entries["runtime-valid"]["examples"] == 2


def test_runs_in_one_process_share_one_zygote_and_each_worker_has_its_runs_environment(tmp_path, monkeypatch):
    # One zygote serves the in-process runs that share an environment (isolation.shared_zygote); the
    # variable that changes from call to call (pytest's PYTEST_CURRENT_TEST) is passed to each worker.
    from backprop_audit.commands import isolation
    outputs, zygotes = [], []
    for mark in ("first run", "second run"):
        monkeypatch.setenv("PYTEST_CURRENT_TEST", mark)
        done = check(CLAIMS / "environment_reader.py", *FAST, out=tmp_path / mark)
        assert done.returncode == 0, done.stderr
        outputs.append(report_of(tmp_path / mark)["formulas"][0]["output"])
        zygotes.append(isolation.shared_zygote().process.pid)
    assert "environment: first run" in outputs[0] and "environment: second run" in outputs[1]
    assert zygotes[0] == zygotes[1]
    # Another environment: another zygote, and the idle one closed. Shown on stand-ins, so that no third
    # interpreter imports torch and jax (~3 s) and the real zygote serves this process's later runs.
    closed, started = [], []

    class StandIn:
        def __init__(self):
            started.append(self)

        def alive(self):
            return True

        def close(self):
            closed.append(self)

    old = StandIn()
    monkeypatch.setattr(isolation, "_shared", {isolation._environment_key(): old})
    monkeypatch.setattr(isolation, "_Zygote", StandIn)
    assert isolation.shared_zygote() is old  # the same environment: the same zygote
    monkeypatch.setenv("BACKPROP_AUDIT_TEST_VARIABLE", "an import-time setting may have changed")
    new = isolation.shared_zygote()
    assert new is not old and started == [old, new] and closed == [old]


@pytest.mark.parametrize("args, message", [
    (["--dtypes", "float16"], "unknown dtype"),
    (["--examples", "0"], "must be at least 1"),
    (["--time-limit", "-1"], "positive number of seconds"),
])
def test_usage_errors_exit_2(tmp_path, args, message):
    done = check(WORKED_EXAMPLE, *args, out=tmp_path)
    assert done.returncode == 2 and message in done.stderr
    assert not (tmp_path / "report.json").exists()


def test_no_file_is_a_usage_error():
    done = check_in_subprocess()
    assert done.returncode == 2 and "FILE" in done.stderr


def test_an_unknown_only_id_is_an_input_error():
    done = nothing_loads_run().done
    assert done.returncode == 2 and "--only: no loaded claim has id 'no-such-claim'" in done.stderr


def test_a_corrected_claim_runs_without_its_erratum(tmp_path):
    """--only names a claim whose erratum (corrects=) is in its file but not selected: the corrected claim
    still runs (it once stopped the claims worker in link_corrections, every claim lost)."""
    pair = tmp_path / "pair.py"
    pair.write_text("from backprop_audit.manual.doc_000 import FORMULAS\n"
                    "BY_ID = {f.id: f for f in FORMULAS}\n"
                    "CLAIMS = [BY_ID['000-output-activation-gradient'], BY_ID['000-output-activation-gradient-corrected']]\n")
    done = check(pair, "--only", "000-output-activation-gradient-corrected", *FAST, out=tmp_path / "out")
    assert done.returncode == 0, done.stderr
    (entry,) = report_of(tmp_path / "out")["formulas"]
    assert entry["id"] == "000-output-activation-gradient-corrected" and entry["verdict"] == "holds"
    assert entry["corrects"] == "000-output-activation-gradient" and entry["corrected_by"] is None


def pytest_on_user_claims(pytester, monkeypatch, files, *args):
    """pytest on tests/test_check_user_claims.py with BACKPROP_AUDIT_CLAIMS set to `files`, run in this
    process (pytester: a session of its own, its modules imported afresh and dropped after); .ret and
    the text it printed."""
    test_file = Path(__file__).parent / "test_check_user_claims.py"
    monkeypatch.setenv("BACKPROP_AUDIT_CLAIMS", os.pathsep.join(map(str, files)))
    for name, module in list(sys.modules.items()):  # collected by this session too: the inner one must
        if getattr(module, "__file__", None) == str(test_file):  # import it afresh, reading the variable
            monkeypatch.delitem(sys.modules, name)
    done = pytester.runpytest_inprocess("-q", "-p", "no:xdist", "--rootdir", str(Path(__file__).parent.parent),
                                        str(test_file), *args)
    return SimpleNamespace(returncode=int(done.ret), stdout=done.stdout.str(), stderr=done.stderr.str())


def test_the_pytest_route_collects_one_test_per_claim_of_the_named_files(pytester, monkeypatch):
    done = pytest_on_user_claims(pytester, monkeypatch, [CLAIMS / "bad_runtime.py", CLAIMS / "bad_records.py"],
                                 "--collect-only")
    assert done.returncode == 0, done.stdout + done.stderr
    for claim in ("runtime-raises", "runtime-too-long", "runtime-valid", "bad-records-valid"):
        assert f"test_claim_matches_its_expectation[{claim}]" in done.stdout
    assert "nielsen-BP2" not in done.stdout  # the default file is replaced, not added to


def test_the_pytest_route_fails_on_input_errors_naming_them(pytester, monkeypatch):
    done = pytest_on_user_claims(pytester, monkeypatch, [CLAIMS / "bad_records.py"], "-k", "loads")
    assert done.returncode == 1
    assert "bad_records.py, line" in done.stdout and "unknown quantity 'dC/dw[L]'" in done.stdout
