"""The mutant corpus (backprop_audit/trust/mutants.py): every deliberately wrong formula is found by the search, in
float64, and each gets the diagnosis its record names: the transform, the edit of the formula (the
repair), or the precondition that undoes the mistake.
(Both dtypes, and the smallest erratum ratio, in `backprop-audit soak --mutants`.)"""
import pytest

from backprop_audit.trust.trust import check_erratum, load_mutants

MUTANTS = load_mutants()
EXAMPLES = 40


def test_the_corpus_covers_the_textbook_mistakes():
    assert len(MUTANTS) >= 40
    assert len({m.formula.id for m in MUTANTS}) == len(MUTANTS)
    kinds = " ".join(m.mistake for m in MUTANTS)
    for mistake in ("sign", "factor 2", "factor 1/2", "1/N missing", "1/N doubled", "transpose", "swapped operands",
                    "σ'(a) for σ'(z)", "activation derivative", "layer index", "dropped bias", "broadcasting",
                    "wrong axis"):
        assert mistake in kinds, mistake
    assert all(m.formula.expected == "erratum" for m in MUTANTS)
    named = lambda m: m.diagnosis and (m.fix or m.diagnosis == "none")  # "none": killed, no fix to name
    assert all(map(named, MUTANTS)), [m.formula.id for m in MUTANTS if not named(m)]
    for mistake in ("wrong axis", "wrong-layer operand", "compounds down", "softmax Jacobian's diagonal",
                    "x(1 - x) applied at the input"):  # the repair's own edit kinds (issue 15)
        assert mistake in kinds, mistake


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.formula.id for m in MUTANTS])
def test_the_mutant_is_killed_and_diagnosed(mutant, memory):
    record = check_erratum(mutant.formula, "float64", EXAMPLES, expected_kind=mutant.diagnosis, expected_fix=mutant.fix,
                           memory=memory)
    assert record["killed"] and record["verdict"] in ("fails", "error"), (
        f"{mutant.formula.id} ({mutant.mistake}) survived {record['examples']} networks; reproduce: {record['reproduce']}")
    assert (record["diagnosis_kind"], record["fix"]) == (mutant.diagnosis, mutant.fix), (
        f"{mutant.formula.id}: diagnosed {record['diagnosis_kind']} / {record['fix']}, expected "
        f"{mutant.diagnosis} / {mutant.fix}; reproduce: {record['reproduce']}")


def test_a_repair_found_in_float32_stays_float32(memory):
    """A repaired formula dividing by N: the traced N is the int compute sees, so float32 / N stays float32 (as
    a 0-d int64 array it made the repair float64, and its fresh float32 search failed on the dtype)."""
    mutant = next(m for m in MUTANTS if m.formula.id == "mutant-wrong-axis-softmax")
    record = check_erratum(mutant.formula, "float32", EXAMPLES, expected_kind=mutant.diagnosis, expected_fix=mutant.fix,
                           memory=memory)
    assert (record["diagnosis_kind"], record["fix"]) == (mutant.diagnosis, mutant.fix), record["diagnosis"]


def test_a_repair_of_a_jacobian_written_with_np_eye_of_its_dtype_is_found_in_float32(memory):
    """σ'(a) for σ'(z) in da[l]/dz[l], written diag(v) = v[:, :, None] * np.eye(n, dtype=v.dtype): the eye is a
    constant of the tree, made on the twin; a float64 twin made the float32 repair float64, its fresh search failed
    on the dtype, and the float32 diagnosis was "no simple fix found" (issue 15)."""
    mutant = next(m for m in MUTANTS if m.formula.id == "mutant-jacobian-derivative-of-a")
    record = check_erratum(mutant.formula, "float32", EXAMPLES, expected_kind=mutant.diagnosis, expected_fix=mutant.fix,
                           memory=memory)
    assert (record["diagnosis_kind"], record["fix"]) == (mutant.diagnosis, mutant.fix), record["diagnosis"]
