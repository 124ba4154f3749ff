"""Determinism: the same seed and profile give the same verdicts and the same counterexamples, and every
failure says how to reproduce it (the counterexample's "reproduce" command, printed by the gate)."""
import importlib.util
from pathlib import Path

import pytest

from backprop_audit import Formula, Setting, Source
from backprop_audit.verdicts.audit import audit
from backprop_audit.verdicts.entry import report_entry
from backprop_audit.verdicts.run import run
from backprop_audit.trust.trust import check_erratum, load_mutants

SOURCE = Source("test", "tests/test_trust_determinism.py", "known to be wrong")
SETTING = Setting(depth=(1, 3), width=(1, 4), batch=(1, 4), output=("identity",), loss=("mean_half_sum_sq",))
WRONG = Formula(id="missing-mean", title="-", source=SOURCE, written="-", convention="row", quantity="dC/dW[l]",
                setting=SETTING, expected="erratum",
                compute=lambda n, l: n.a[l - 1].T @ _deltas(n)[l])  # the 1/N of the mean is missing


def _deltas(n):
    from backprop_audit.model.operations import derivative
    delta = {n.L: n.a[n.L] - n.y}
    for l in range(n.L - 1, 0, -1):
        delta[l] = (delta[l + 1] @ n.W[l + 1].T) * derivative(n.activation[l], n.z[l])
    return delta


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_same_seed_gives_the_same_verdict_and_counterexample(dtype):
    first = report_entry(audit(WRONG, examples=30, dtypes=(dtype,), seed=3))
    second = report_entry(audit(WRONG, examples=30, dtypes=(dtype,), seed=3))
    assert first["verdict"] == second["verdict"] == "fails"
    assert first["counterexample"] == second["counterexample"]
    assert first["diagnosis"] == second["diagnosis"]
    assert first["counterexample"]["reproduce"].startswith(f"backprop-audit report --only {WRONG.id} --dtypes {dtype}")


def test_a_whole_run_is_deterministic_apart_from_timings():
    timings = ("seconds", "dtypes", "diagnosis_seconds", "repair_seconds")
    strip = lambda report: [{k: ({**v, "seconds": None} if k == "repair" and v else v) for k, v in f.items()  # noqa: E731
                             if k not in timings} for f in report["formulas"]]
    assert strip(run([WRONG], examples=20, dtypes=("float64",))) == strip(run([WRONG], examples=20, dtypes=("float64",)))


def test_a_mutant_record_is_deterministic_and_carries_its_reproduce_command():
    mutant = load_mutants()[0]
    first, second = (check_erratum(mutant.formula, "float64", 30, diagnose_it=False) for _ in range(2))
    assert first == second and first["killed"]
    assert first["reproduce"] == (f"backprop-audit soak --checks 0 --mutants --only {mutant.formula.id} "
                                  f"--dtypes float64 --examples 30 --seed 0")


def _gate():
    path = Path(__file__).with_name("test_catalog.py")
    spec = importlib.util.spec_from_file_location("gate_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_failing_gate_prints_how_to_reproduce(monkeypatch):
    gate = _gate()
    monkeypatch.setattr(gate.profiles, "examples_per_formula", lambda: 20)
    expected_to_hold = Formula(**{**WRONG.__dict__, "expected": "holds"})
    with pytest.raises(AssertionError) as failure:
        gate.test_verdict_matches_expectation(expected_to_hold, lambda _: report_entry(audit(expected_to_hold, examples=20)))
    assert f"reproduce: backprop-audit report --only {WRONG.id}" in str(failure.value)
    right = Formula(**{**WRONG.__dict__, "compute": lambda n, l: n.a[l - 1].T @ _deltas(n)[l] / n.N})
    with pytest.raises(AssertionError) as held:  # an erratum that no longer reproduces
        gate.test_verdict_matches_expectation(right, lambda _: report_entry(audit(right, examples=20)))
    assert f"reproduce: backprop-audit report --only {WRONG.id}" in str(held.value)
