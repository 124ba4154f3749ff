"""A claim is untrusted code (issue 14): whatever it does costs that claim its verdict and nothing else.

Each test reads a run of `backprop-audit check` on files that mix bad claims (tests/claims/untrusted_*.py)
with correct ones, into an --out folder that already holds a stale report; and asserts that the bad claim
gets an error naming what it did, the correct claims hold, a fresh report is written, and the exit status
is not 0. Two runs serve every test (float64 only, few examples): CRASHES, the claims that end or hang
their worker (each costs a new worker) and a file that ends its worker while loading (exit 2), through the
real entry point in a fresh interpreter, whose file descriptors 1 and 2 the test reads (a claim's prints
must not reach them); and MISBEHAVES, the claims that raise (SystemExit, KeyboardInterrupt, ...), edit
their inputs or answer differently, side by side in one worker (exit 1), run in this process (cli.main,
as test_check_command.py does: its claims worker is forked from this process's zygote, so no second
interpreter and zygote import torch and jax, ~6 s of CPU) while the first one waits for its watchdogs.
The isolation is per claim, so many bad claims in one run test it more, not less."""
import contextlib
import functools
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest

from backprop_audit.commands import cli
from backprop_audit.verdicts.entry import REPORT_SCHEMA

CLAIMS = Path(__file__).parent / "claims"
STALE = '{"stale": true}'

# The tests share their `check` runs: on one pytest-xdist worker (the group; --dist loadgroup), each run
# (its worker processes, a watchdog's wait) happens once. CRASHES starts first, in a fresh interpreter: it
# waits for a hung claim's watchdog while MISBEHAVES computes in this process, and then while the in-process
# runs of test_check_command.py do (conftest.py runs them after this module's first test). The group is the
# one of every in-process `check`: one zygote forks their claims workers.
pytestmark = pytest.mark.xdist_group("check-runs")


def _arguments(args, out: Path) -> list:
    """`check ARGS --examples 4 --dtypes float64 --out OUT`, OUT a new folder holding a stale report."""
    (out / "report.json").write_text(STALE)
    (out / "REPORT.md").write_text("stale")
    return ["check", *args, "--examples", "4", "--dtypes", "float64", "--out", str(out)]


def _start(args) -> SimpleNamespace:
    """`backprop-audit check` (_arguments), started in a fresh interpreter."""
    out = Path(tempfile.mkdtemp(prefix="untrusted-"))
    command = [sys.executable, "-m", "backprop_audit", *_arguments(args, out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return SimpleNamespace(process=process, out=out)


@functools.cache
def _started() -> dict:
    """The runs started in a fresh interpreter so far, by argument list: CRASHES, at the first need."""
    return {CRASHES: _start(CRASHES)}


def _in_this_process(args) -> SimpleNamespace:
    """`backprop-audit check` (_arguments) run by cli.main in this process (its stdout and stderr captured,
    its exit status returned); CRASHES is started first, so that it runs meanwhile."""
    _started()
    out = Path(tempfile.mkdtemp(prefix="untrusted-"))
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(_arguments(args, out))
    return SimpleNamespace(returncode=code, stdout=stdout.getvalue(), stderr=stderr.getvalue(), out=out)


@pytest.fixture(scope="session", autouse=True)
def _no_run_left_behind():
    """A run no test read (a -k selection, a failure before it) is stopped at the end of the session (not of
    the module: test_check_command.py's tests run between this module's first and its others, see
    _with_the_fresh_run_hidden in conftest.py)."""
    yield
    if _started.cache_info().currsize:
        for started in _started().values():
            if started.process.poll() is None:
                started.process.terminate()
                started.process.communicate()


@functools.cache
def checked(*args) -> SimpleNamespace:
    """The finished run of one of the two argument lists: its exit status, output, report and REPORT.md."""
    if args in IN_THIS_PROCESS:
        done = _in_this_process(args)
        returncode, stdout, stderr, out = done.returncode, done.stdout, done.stderr, done.out
    else:
        started = _started().get(args) or _started().setdefault(args, _start(args))  # another run: started now
        stdout, stderr = started.process.communicate(timeout=600)
        returncode, out = started.process.returncode, started.out
    text = (out / "report.json").read_text()
    assert text != STALE, f"no fresh report: {stderr}"
    report = json.loads(text)
    jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    assert (out / "REPORT.md").read_text() != "stale"
    return SimpleNamespace(returncode=returncode, stdout=stdout, stderr=stderr, report=report,
                           entries={f["id"]: f for f in report["formulas"]}, markdown=(out / "REPORT.md").read_text())


def assert_error(run, claim: str, finding: str, *said: str):
    entry = run.entries[claim]
    assert entry["verdict"] == "error" and not entry["matches_expectation"], entry
    found = entry["counterexample"]
    assert found["kind"] == finding, found
    for text in said:
        assert text in found["message"], found["message"]


def assert_the_others_hold(run, bad: set):
    held = {claim: entry["verdict"] for claim, entry in run.entries.items() if claim not in bad}
    assert held and set(held.values()) == {"holds"}, held
    assert run.returncode != 0


# --grace 1: the hung claim's worker is killed 1 s past its time limit (5 s by default), which the test's worker
# would otherwise spend waiting with a core idle
CRASHES = (str(CLAIMS / "untrusted_crashes.py"), str(CLAIMS / "untrusted_load_exit.py"), str(CLAIMS / "untrusted_prints.py"),
           "--time-limit", "2", "--grace", "1")
CRASHING = {"crash-os-exit", "crash-segfault", "crash-swallows-time-limit"}
# The editing claims come first, before correct claims on the same networks, one in another file.
MISBEHAVES = tuple(str(CLAIMS / f"untrusted_{name}.py") for name in ("edits_inputs", "later", "nondeterministic", "exits"))
EXITING = {"exits-sys-exit-0", "exits-sys-exit-3", "exits-raise-system-exit", "exits-keyboard-interrupt",
           "exits-generator-exit"}
NONDETERMINISTIC = {"nondeterministic-doubled-sometimes", "nondeterministic-raises-sometimes"}
MISBEHAVING = EXITING | NONDETERMINISTIC
IN_THIS_PROCESS = {MISBEHAVES}


@pytest.mark.parametrize("claim, said", [
    ("exits-sys-exit-0", "raised SystemExit: 0"),
    ("exits-sys-exit-3", "raised SystemExit: 3"),
    ("exits-raise-system-exit", "raised SystemExit"),
    ("exits-keyboard-interrupt", "raised KeyboardInterrupt"),
    ("exits-generator-exit", "raised GeneratorExit"),
])
def test_a_base_exception_from_a_claim_is_its_error(claim, said):
    run = checked(*MISBEHAVES)
    assert_error(run, claim, "raised", said)
    assert_the_others_hold(run, MISBEHAVING)
    assert {"exits-correct-before", "exits-correct-after"} <= set(run.entries)
    assert run.returncode == 1


@pytest.mark.parametrize("claim, finding, said", [
    ("crash-os-exit", "crashed", "exited with status 0"),
    ("crash-segfault", "crashed", "killed by signal SIGSEGV"),
    ("crash-swallows-time-limit", "time limit", "(2 s of --time-limit and 1 s of grace): it did not stop when its time limit was raised"),
])
def test_a_claim_that_ends_or_hangs_its_worker_is_its_error_and_a_new_worker_checks_the_rest(claim, finding, said):
    run = checked(*CRASHES)
    assert_error(run, claim, finding, said)
    assert_the_others_hold(run, CRASHING)
    assert {"crash-correct-between", "crash-correct-after", "prints-quiet"} <= set(run.entries)


def test_a_file_that_ends_its_worker_while_loading_is_its_input_error():
    run = checked(*CRASHES)
    assert [e["file"] for e in run.report["input_errors"]] == [str(CLAIMS / "untrusted_load_exit.py")]
    assert "while loading, its worker process exited with status 0" in run.report["input_errors"][0]["message"]
    assert_the_others_hold(run, CRASHING)
    assert run.returncode == 2


def test_what_a_crashing_claim_printed_is_in_its_entry():
    assert "about to leave" in checked(*CRASHES).entries["crash-os-exit"]["output"]


def test_an_in_place_edit_of_its_inputs_reaches_no_other_call_claim_or_file():
    """Fresh copies per call: the editing claims are judged on what they compute (they hold), and the
    correct claims after them, one in another file, on the same networks, hold too. Before, a[0] was
    the network's own X in the row convention and the later claims failed at ~1e12 x tolerance."""
    run = checked(*MISBEHAVES)
    edited = ("edits-halves-its-input", "edits-zeroes-the-output-between-layers", "edits-correct-after",
              "later-file-correct", "nondeterministic-doubled-sometimes")
    assert {c: run.entries[c]["verdict"] for c in edited} == {
        "edits-halves-its-input": "holds", "edits-zeroes-the-output-between-layers": "holds",
        "edits-correct-after": "holds", "later-file-correct": "holds", "nondeterministic-doubled-sometimes": "error"}
    assert run.returncode == 1


@pytest.mark.parametrize("claim", sorted(NONDETERMINISTIC))
def test_a_formula_that_answers_differently_on_the_same_network_is_nondeterministic(claim):
    run = checked(*MISBEHAVES)
    assert_error(run, claim, "nondeterministic", "nondeterministic formula")
    assert_the_others_hold(run, MISBEHAVING)
    assert {"nondeterministic-correct-before", "nondeterministic-correct-after"} <= set(run.entries)


def test_a_claims_output_is_captured_truncated_and_shown_in_its_section_not_on_stdout():
    run = checked(*CRASHES)
    output = run.entries["prints-talkative"]["output"]
    for printed in ("talkative: checking a network", "talkative: on stderr", "talkative: written to fd 1"):
        assert printed in output
        assert printed not in run.stdout
    assert len(output) < 5000 and "more characters not shown" in output  # 4 examples x ~2 KB printed
    assert run.entries["prints-quiet"]["output"] == ""
    assert "Output of the claim's code" in run.markdown and "talkative: on stderr" in run.markdown
