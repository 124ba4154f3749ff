"""The gate: every record of the catalog gets the verdict its record expects, and every erratum the
diagnosis its record names (expected_diagnosis: kind and fix); and on every record's networks torch and
jax agree (a disagreement is an instrument fault, which stops the gate whatever the verdict).

A correct formula that starts failing, an erratum that stops reproducing, or a change in the engine that
turns "multiply by 1/N" into "no simple fix found", fails this test and so CI.
"""
import pytest

from backprop_audit.searching import profiles
from backprop_audit.model.formula import describe_setting, link_corrections
from backprop_audit.manual import catalog

FORMULAS = catalog()
CORRECTED_BY = link_corrections(FORMULAS)


@pytest.mark.parametrize("formula", FORMULAS, ids=[f.id for f in FORMULAS])
def test_verdict_matches_expectation(formula, audited):
    examples = profiles.examples_per_formula()
    result = audited(formula.id)
    reproduce = f"backprop-audit report --only {formula.id} --examples {examples} --seed 0"
    if formula.expected == "holds":
        assert result["verdict"] == "holds", (
            f"{formula.id} was expected to hold but {result['verdict']}: "
            f"{result['counterexample']['message']}\nreproduce: {result['counterexample']['reproduce']}")
        assert result["worst_error_ratio"] <= 1.0
        if formula.violates is not None:
            check = result["precondition_check"]
            assert check["verdict"] != "holds", (
                f"{formula.id} should fail where its precondition is broken ({describe_setting(check['setting'])}) but held\n"
                f"reproduce: {reproduce}")
    else:
        assert result["verdict"] in ("fails", "error"), (
            f"{formula.id} is a recorded erratum but held on {result['examples']} networks\nreproduce: {reproduce}")
        assert result["counterexample"] is not None and result["diagnosis"]
        if result["verdict"] == "fails":  # report.json's one worst ratio: of the failing examples
            assert result["worst_error_ratio"] > 1.0, f"{formula.id}: fails at {result['worst_error_ratio']} x tolerance"
        expected, found = formula.expected_diagnosis, result["counterexample"]
        assert expected is not None, f"{formula.id}: a catalog erratum names its diagnosis (expected_diagnosis=)"
        assert found["network"]["dtype"] == "float64", f"{formula.id}: diagnosed on its float32 counterexample"
        assert (found["diagnosis_kind"], found["fix"]) == (expected.kind, expected.fix), (
            f"{formula.id}: diagnosed {found['diagnosis_kind']} {found['fix']!r}, the record expects "
            f"{expected.kind} {expected.fix!r}: {result['diagnosis']}\nminimal network: {found['description']}\n"
            f"reproduce: {reproduce}")


@pytest.mark.parametrize("formula", FORMULAS, ids=[f.id for f in FORMULAS])
def test_the_oracles_agree(formula, audited):
    """torch and jax disagreeing beyond tolerance on any network is an instrument fault, whatever finite
    differences decided and whatever the verdict: one of the two oracles (or the engine around them) is
    broken, so the gate stops (exit 3 for `report` and `check`, verdicts/exit_status.py)."""
    result = audited(formula.id)
    notes = "\n".join(result["oracle_notes"]) or "(no note)"
    assert result["oracles_agree"], (
        f"{formula.id}: instrument fault: torch and jax disagree, worst {result['worst_oracle_ratio']} x tolerance:\n"
        f"{notes}\nreproduce: backprop-audit report --only {formula.id} --examples {profiles.examples_per_formula()} --seed 0")


def test_every_erratum_has_a_corrected_form_that_holds():
    by_id = {f.id: f for f in FORMULAS}
    for formula in FORMULAS:
        if formula.expected == "erratum":
            assert formula.id in CORRECTED_BY, f"{formula.id} has no corrected form"
            assert by_id[CORRECTED_BY[formula.id]].expected == "holds"


def test_ids_are_unique():
    ids = [f.id for f in FORMULAS]
    assert len(ids) == len(set(ids))
