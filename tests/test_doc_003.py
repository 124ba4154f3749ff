"""Document 003: its printed Jacobian products that do not conform are reported as such.

Read through eq (9), the printed transpose and the printed Hadamard form are products whose shapes do
not conform on a network with two or more layers. On one layer the formula is checked at l = L only,
where the recursion never runs, so "holds only when a single layer" (the diagnosis these records got
before) said nothing; the diagnosis now names the error (diagnose._precondition_settings). The kind each
gets ("raised", "shape") is pinned on its record and checked by the gate (test_catalog.py); this checks
where: on a network deep and wide enough for the recursion to run.
Reads the gate's own audit of each record (the `audited` fixture, conftest.py)."""
import pytest

NOT_CONFORMING = ["003-jacobian-transpose-as-printed", "003-diagonal-as-hadamard-as-printed"]


@pytest.mark.parametrize("formula_id", NOT_CONFORMING)
def test_a_printed_product_that_does_not_conform_is_reported_as_such(formula_id, audited):
    result = audited(formula_id)
    found = result["counterexample"]
    assert result["verdict"] == "error", f"{formula_id}: {result['verdict']}, diagnosed {result['diagnosis']!r}"
    assert max(found["network"]["widths"]) > 1 and len(found["network"]["widths"]) > 2  # two layers, not square


@pytest.mark.parametrize("formula_id", NOT_CONFORMING + ["003-eq11-delta-as-dC-dz-literal"])
def test_a_recursion_is_never_said_to_hold_on_a_single_layer(formula_id, audited):
    result = audited(formula_id)
    assert result["verdict"] != "holds" and "single layer" not in result["diagnosis"], result["diagnosis"]


def test_a_loop_one_layer_too_far_is_named_as_its_range(audited):
    """Eq (11) run 'for l = L, ..., 1': no edit of an expression repairs a loop's range; the diagnosis says
    which layer the loop asked for that the network does not have."""
    result = audited("003-eq11-range-from-L")
    assert result["verdict"] == "error" and result["counterexample"]["diagnosis_kind"] == "raised"
    assert "layer L+1" in result["diagnosis"] and "loop runs one layer past the output" in result["diagnosis"]
