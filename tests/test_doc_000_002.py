"""Documents 000 and 002: each erratum is diagnosed as the catalog's notes say it is.

The gate (test_catalog.py) checks verdicts and that a diagnosis exists; this checks which one, so a
change in the engine that turns "multiply by 1/N" into "no simple fix found" shows up here. It reads the
gate's own audit of the record (the `audited` fixture, conftest.py: one audit per record and process,
and the record's tests run on one pytest worker): the counterexample and diagnosis of the first dtype
that fails, float64 for all of these.
"""
import pytest


# id -> (diagnosis kind, fix) the search must arrive at; fix None where only the kind is fixed.
DIAGNOSES = {
    "000-output-activation-gradient": ("factor", "x 1/N"),  # dE/da[2] of the batch mean drops 1/N
    "000-output-weight-gradient-intended": ("factor", "x 1/N"),
    "000-hidden-weight-gradient-intended": ("factor", "x 1/N"),
    "000-output-weight-gradient-label": ("index", "layer l+1"),  # labelled w[0], value of w[1]
    "002-cross-entropy-loss": ("factor", "x -1/N"),  # J = Σ y log p: sign and mean
}
# Literal readings whose printed product does not conform on most networks: the diagnosis says so.
NOT_EVALUABLE = [
    "000-hidden-activation-gradient-literal",
    "000-hidden-weight-gradient-literal",
    "000-delta-recursion-literal",
    "000-weight-gradient-recursion-literal",
    "002-output-weight-gradient-literal",
    "002-hidden-activation-gradient-literal",
    "002-hidden-weight-gradient-literal",
    "002-bce-sigmoid-weight-gradient-literal",
]


def _diagnosed(audited, formula_id):
    result = audited(formula_id)
    assert result["verdict"] in ("fails", "error"), f"{formula_id} held on {result['examples']} networks"
    assert result["counterexample"]["network"]["dtype"] == "float64", "diagnosed on its float32 counterexample"
    return result["counterexample"]


@pytest.mark.parametrize("formula_id", sorted(DIAGNOSES))
def test_erratum_gets_its_diagnosis(formula_id, audited):
    kind, fix = DIAGNOSES[formula_id]
    found = _diagnosed(audited, formula_id)
    assert (found["diagnosis_kind"], found["fix"]) == (kind, fix), (
        f"{formula_id}: diagnosed {found['diagnosis_kind']} {found['fix']!r}, expected {kind} {fix!r}; "
        f"minimal network: {found['description']}")


@pytest.mark.parametrize("formula_id", NOT_EVALUABLE)
def test_non_conforming_literal_reading_is_reported_as_such(formula_id, audited):
    found = _diagnosed(audited, formula_id)
    assert found["diagnosis_kind"] in ("raised", "shape"), (
        f"{formula_id}: diagnosed {found['diagnosis_kind']} {found['fix']!r} on {found['description']}")
