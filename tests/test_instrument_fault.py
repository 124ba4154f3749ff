"""An instrument fault stops the gate: with a broken jax oracle (softmax over the batch axis instead of the
units), finite differences side with torch and every verdict comes out as before, but `report` and
`check` exit 3 (verdicts/exit_status.py), the report says oracles_agree false, and its oracle_notes name
the disagreement and the finite differences' decision. The precedence of the exit statuses is tested on
hand-made reports."""
import json
import sys
from pathlib import Path

import pytest

from backprop_audit.commands import cli
from backprop_audit.manual import catalog
from backprop_audit.verdicts.audit import audit
from backprop_audit.verdicts.entry import report_entry
from backprop_audit.verdicts.exit_status import ExitStatus, exit_status

CLAIMS = Path(__file__).parent / "claims"
sys.path.insert(0, str(CLAIMS))
import broken_jax_oracle  # noqa: E402

RECORDS = ("002-softmax-ce-output-delta",)  # `report --only` also needs an erratum's corrected form: see below
FAST = ["--examples", "3", "--dtypes", "float64"]


@pytest.fixture
def jax_softmax_over_the_wrong_axis(monkeypatch):
    """The broken jax oracle (tests/claims/broken_jax_oracle.py) in this process; monkeypatch puts
    everything back."""
    broken_jax_oracle.install(monkeypatch.setattr)


def test_report_exits_3_on_a_broken_jax_oracle_and_keeps_the_finite_differences_decision(
        tmp_path, capsys, jax_softmax_over_the_wrong_axis):
    code = cli.main(["report", "--only", ",".join(RECORDS), "--out", str(tmp_path), *FAST])
    assert code == ExitStatus.INSTRUMENT_FAULT == 3
    report = json.loads((tmp_path / "report.json").read_text())
    for entry in report["formulas"]:
        assert entry["matches_expectation"], entry["id"]  # judged on torch, finite differences' pick
        assert not entry["oracles_agree"] and entry["worst_oracle_ratio"] > 1
        notes = " ".join(entry["oracle_notes"])
        assert "torch and jax disagree on dC/dz[" in notes, notes
        assert "finite differences (float64) side with torch" in notes, notes
    assert "instrument fault" in capsys.readouterr().err
    assert "torch and jax agree: NO" in (tmp_path / "REPORT.md").read_text()


@pytest.mark.parametrize("record", ["002-hidden-weight-gradient-intended"])
def test_a_catalog_record_audited_on_a_broken_jax_oracle_is_an_instrument_fault(record, jax_softmax_over_the_wrong_axis):
    """A record that corrects an erratum (so `report --only` cannot run it alone), audited directly."""
    formula = next(f for f in catalog() if f.id == record)
    entry = report_entry(audit(formula, examples=3, dtypes=("float64",)))
    assert entry["verdict"] == "holds" and not entry["oracles_agree"]
    assert any(f"disagree on {formula.quantity}" in note and "side with torch" in note
               for note in entry["oracle_notes"]), entry["oracle_notes"]
    assert exit_status({"formulas": [entry]}) == ExitStatus.INSTRUMENT_FAULT


@pytest.mark.xdist_group("check-runs")  # with the other in-process `check` runs: one zygote (test_check_command.py)
def test_check_exits_3_on_a_broken_jax_oracle(tmp_path, capsys):
    """`check` runs its claims in a worker process: the claims file itself installs the broken oracle there."""
    claims = tmp_path / "claims.py"
    claims.write_text(
        f"import sys; sys.path.insert(0, {str(CLAIMS)!r})\n"
        "import broken_jax_oracle; broken_jax_oracle.install()\n"
        "from backprop_audit import Formula, Setting, Source\n"
        "CLAIMS = [Formula(id='softmax-ce-delta', title='-', source=Source('test', 'here', '-'), written='-',\n"
        "                  convention='row', quantity='dC/dz[L]',\n"
        "                  setting=Setting(depth=(1, 1), width=(2, 3), batch=(2, 3), output=('softmax',),\n"
        "                                  loss=('softmax_ce',)),\n"
        "                  compute=lambda v: (v.a[v.L] - v.y) / v.N)]\n")
    code = cli.main(["check", str(claims), "--out", str(tmp_path / "out"), *FAST])
    assert code == ExitStatus.INSTRUMENT_FAULT
    entry = json.loads((tmp_path / "out" / "report.json").read_text())["formulas"][0]
    assert entry["verdict"] == "holds" and not entry["oracles_agree"]
    assert any("side with torch" in note for note in entry["oracle_notes"])
    assert "instrument fault" in capsys.readouterr().err


def _report(*, agree=True, expected=True, input_errors=()):
    formula = {"id": "f", "oracles_agree": agree, "matches_expectation": expected}
    return {"formulas": [formula, {"id": "g", "oracles_agree": True, "matches_expectation": True}],
            "input_errors": list(input_errors)}


@pytest.mark.parametrize("report, status", [
    (_report(), ExitStatus.AS_EXPECTED),
    (_report(expected=False), ExitStatus.VERDICT_DIFFERS),
    (_report(agree=False), ExitStatus.INSTRUMENT_FAULT),
    (_report(agree=False, expected=False), ExitStatus.INSTRUMENT_FAULT),  # a verdict is only as good as its oracles
    (_report(agree=False, expected=False, input_errors=[{"file": "x.py"}]), ExitStatus.INPUT_ERROR),
    (_report(input_errors=[{"file": "x.py"}]), ExitStatus.INPUT_ERROR),
], ids=["as-expected", "differs", "fault", "fault-over-differs", "input-over-all", "input"])
def test_the_exit_status_and_its_precedence(report, status):
    said = []
    assert exit_status(report, warn=said.append) == status
    assert bool(said) == (not report["formulas"][0]["oracles_agree"])
    assert not said or "f;" in said[0] and "oracle_notes" in said[0]
