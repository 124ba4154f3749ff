"""A missing oracle: with torch or jax not importable the command says so, runs with the other and marks
the report; with neither it stops with a clear message and exit status 2. Each case runs the real
command in a fresh interpreter where the import is blocked (sys.modules[name] = None makes
`import name` raise ImportError, as if it were not installed)."""
import json
import os
import subprocess
import sys

import pytest

FORMULA = "003-output-error-sigmoid"


def run_command(blocked, argv, tmp_path):
    code = ("import sys\n"
            f"for name in {list(blocked)!r}:\n"
            "    sys.modules[name] = None\n"
            "from backprop_audit.cli import main\n"
            f"sys.exit(main({list(argv)!r}))\n")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)


@pytest.mark.parametrize("blocked, remaining", [("torch", "jax"), ("jax", "torch")])
def test_one_missing_oracle_is_announced_and_the_report_marks_it(tmp_path, blocked, remaining):
    done = run_command([blocked], ["report", "--only", FORMULA, "--examples", "5", "--dtypes", "float64",
                                   "--out", str(tmp_path)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"{blocked} oracle unavailable" in done.stderr and f"checking against {remaining} only" in done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["environment"]["oracles"] == [remaining]
    assert blocked in report["environment"]["missing_oracles"]
    assert report["formulas"][0]["verdict"] == "holds" and report["formulas"][0]["examples"] == 5


def test_the_soak_runs_with_one_oracle_and_marks_trust_json(tmp_path):
    done = run_command(["jax"], ["soak", "--checks", "30", "--large", "0", "--out", str(tmp_path)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "jax oracle unavailable" in done.stderr
    trust = json.loads((tmp_path / "trust.json").read_text())
    assert trust["settings"]["oracles"] == ["torch"] and "jax" in trust["settings"]["missing_oracles"]
    assert trust["soak_checks"] >= 30 and trust["soak_false_alarms"] == 0


@pytest.mark.parametrize("argv", [["report", "--only", FORMULA, "--examples", "3"], ["soak", "--checks", "10"]])
def test_no_oracle_at_all_stops_with_exit_2_and_says_why(tmp_path, argv):
    done = run_command(["torch", "jax"], argv + ["--out", str(tmp_path)], tmp_path)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "no oracle available" in done.stderr
    assert "torch oracle unavailable" in done.stderr and "jax oracle unavailable" in done.stderr
    assert "Traceback" not in done.stderr
