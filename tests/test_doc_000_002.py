"""Documents 000 and 002: each erratum is diagnosed as the catalog's notes say it is.

The gate (test_catalog.py) checks verdicts and that a diagnosis exists; this checks which one, so a
change in the engine that turns "multiply by 1/N" into "no simple fix found" shows up here. Only
float64 is searched: the diagnosis does not depend on the dtype.
"""
import pytest

from backprop_audit import profiles
from backprop_audit.audit import audit
from backprop_audit.manual import catalog

BY_ID = {f.id: f for f in catalog()}

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


def _diagnosed(formula_id):
    result = audit(BY_ID[formula_id], examples=profiles.examples_per_formula(), dtypes=("float64",))
    assert result["verdict"] in ("fails", "error"), f"{formula_id} held on {result['examples']} networks"
    return result["counterexample"]


@pytest.mark.parametrize("formula_id", sorted(DIAGNOSES))
def test_erratum_gets_its_diagnosis(formula_id):
    kind, fix = DIAGNOSES[formula_id]
    found = _diagnosed(formula_id)
    assert (found["diagnosis_kind"], found["fix"]) == (kind, fix), (
        f"{formula_id}: diagnosed {found['diagnosis_kind']} {found['fix']!r}, expected {kind} {fix!r}; "
        f"minimal network: {found['description']}")


@pytest.mark.parametrize("formula_id", NOT_EVALUABLE)
def test_non_conforming_literal_reading_is_reported_as_such(formula_id):
    found = _diagnosed(formula_id)
    assert found["diagnosis_kind"] in ("raised", "shape"), (
        f"{formula_id}: diagnosed {found['diagnosis_kind']} {found['fix']!r} on {found['description']}")
