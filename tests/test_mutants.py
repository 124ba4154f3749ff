"""The mutant corpus (backprop_audit/trust/mutants.py): every deliberately wrong formula is found by the search, in
float64, and where a simple transform undoes the mistake the diagnosis names exactly that transform.
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


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.formula.id for m in MUTANTS])
def test_the_mutant_is_killed_and_diagnosed(mutant, memory):
    record = check_erratum(mutant.formula, "float64", EXAMPLES, expected_kind=mutant.diagnosis, expected_fix=mutant.fix,
                           memory=memory)
    assert record["killed"] and record["verdict"] in ("fails", "error"), (
        f"{mutant.formula.id} ({mutant.mistake}) survived {record['examples']} networks; reproduce: {record['reproduce']}")
    if mutant.diagnosis is not None:
        assert (record["diagnosis_kind"], record["fix"]) == (mutant.diagnosis, mutant.fix), (
            f"{mutant.formula.id}: diagnosed {record['diagnosis_kind']} / {record['fix']}, expected "
            f"{mutant.diagnosis} / {mutant.fix}; reproduce: {record['reproduce']}")
