"""A missing oracle: with torch or jax not importable the command says so, runs with the other and marks
the report; with neither it stops with a clear message and exit status 2.

With neither oracle, the real command runs in a fresh interpreter where the imports are blocked
(sys.modules[name] = None makes `import name` raise ImportError, as if it were not installed), so the
path to the process's exit status is the real one. With one oracle missing, the command runs in this
process (its torch and jax are imported already): the oracle's module is blocked the same way and the
oracle registry starts empty, so `references` meets a real ImportError when it loads it."""
import contextlib
import io
import json
import os
import subprocess
import sys

import pytest

from backprop_audit import references
from backprop_audit.commands import cli

FORMULA = "003-output-error-sigmoid"


def run_in_process(blocked, argv, monkeypatch):
    """cli.main(argv) with the oracle modules of `blocked` unimportable; (exit status, stderr)."""
    for name in ("_loaded", "_missing"):
        monkeypatch.setattr(references, name, {})
    monkeypatch.setattr(references, "_announced", [])
    for name in blocked:
        monkeypatch.setitem(sys.modules, references.ORACLE_MODULES[name], None)
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(argv)
    return code, stderr.getvalue()


def run_command(blocked, argv, tmp_path):
    code = ("import sys\n"
            f"for name in {list(blocked)!r}:\n"
            "    sys.modules[name] = None\n"
            "from backprop_audit.commands.cli import main\n"
            f"sys.exit(main({list(argv)!r}))\n")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)


@pytest.mark.parametrize("blocked, remaining", [("torch", "jax"), ("jax", "torch")])
def test_one_missing_oracle_is_announced_and_the_report_marks_it(tmp_path, blocked, remaining, monkeypatch):
    code, stderr = run_in_process([blocked], ["report", "--only", FORMULA, "--examples", "5", "--dtypes", "float64",
                                              "--out", str(tmp_path)], monkeypatch)
    assert code == 0, stderr
    assert f"{blocked} oracle unavailable" in stderr and f"checking against {remaining} only" in stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["environment"]["oracles"] == [remaining]
    assert blocked in report["environment"]["missing_oracles"]
    assert report["formulas"][0]["verdict"] == "holds" and report["formulas"][0]["examples"] == 5


def test_the_soak_runs_with_one_oracle_and_marks_trust_json(tmp_path, monkeypatch):
    code, stderr = run_in_process(["jax"], ["soak", "--checks", "30", "--large", "0", "--out", str(tmp_path)], monkeypatch)
    assert code == 0, stderr
    assert "jax oracle unavailable" in stderr
    trust = json.loads((tmp_path / "trust.json").read_text())
    assert trust["settings"]["oracles"] == ["torch"] and "jax" in trust["settings"]["missing_oracles"]
    assert trust["soak_checks"] >= 30 and trust["soak_false_alarms"] == 0
    # the power of a check at the three sizes (trust/power.py), judged against torch alone here: issue 14's bounds
    detects = {(tuple(row["widths"]), row["batch"], row["dtype"]): row["smallest_relative_error_detected"]
               for row in trust["power"]}
    assert len(detects) == 6 and detects[((8, 16, 4), 8, "float32")] < 1e-3, detects
    assert detects[((64, 512, 10), 128, "float32")] <= 1e-3 and detects[((256, 4096, 10), 1024, "float32")] <= 1e-2, detects
    assert max(d for (_, _, dtype), d in detects.items() if dtype == "float64") <= 1e-9, detects


@pytest.mark.parametrize("argv", [["report", "--only", FORMULA, "--examples", "3"], ["soak", "--checks", "10"]])
def test_no_oracle_at_all_stops_with_exit_2_and_says_why(tmp_path, argv):
    done = run_command(["torch", "jax"], argv + ["--out", str(tmp_path)], tmp_path)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "no oracle available" in done.stderr
    assert "torch oracle unavailable" in done.stderr and "jax oracle unavailable" in done.stderr
    assert "Traceback" not in done.stderr
