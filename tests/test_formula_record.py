"""The formula record's expected diagnosis (Formula.expected_diagnosis): what a record may pin, and that
the diagnoser speaks the same vocabulary. No oracle runs here."""
import dataclasses

import pytest

from backprop_audit import Expected, RecordError
from backprop_audit.manual import catalog
from backprop_audit.verdicts.vocabulary import DIAGNOSIS_KINDS
from backprop_audit.verdicts.diagnose import Diagnosis

HOLDING = next(f for f in catalog() if f.expected == "holds")
ERRATUM = next(f for f in catalog() if f.expected == "erratum")


def test_every_catalog_erratum_pins_its_diagnosis_and_no_other_record_does():
    for formula in catalog():
        assert (formula.expected_diagnosis is not None) == (formula.expected == "erratum"), formula.id


@pytest.mark.parametrize("record, expected_diagnosis, message", [
    (HOLDING, Expected(kind="factor", fix="x 2"), 'only for a record with expected="erratum"'),
    (ERRATUM, Expected(kind="off-by-two"), "unknown kind 'off-by-two'"),
    (ERRATUM, ("factor", "x 2"), r"must be an Expected\(kind=..., fix=...\)"),
    (ERRATUM, Expected(kind="factor", fix=None), "fix must be a string"),
], ids=["on-a-holding-record", "unknown-kind", "not-an-Expected", "fix-not-a-string"])
def test_a_malformed_expected_diagnosis_is_named(record, expected_diagnosis, message):
    with pytest.raises(RecordError, match=message):
        dataclasses.replace(record, expected_diagnosis=expected_diagnosis)


def test_the_diagnoser_gives_only_kinds_a_record_can_pin():
    assert Diagnosis(DIAGNOSIS_KINDS[0], "text").kind == DIAGNOSIS_KINDS[0]
    with pytest.raises(ValueError, match="not in vocabulary.DIAGNOSIS_KINDS"):
        Diagnosis("off-by-two", "text")


def test_every_wrong_field_of_a_record_is_named_at_once():
    """A claims file is fixed in one pass: source, convention, two setting fields wrong -> one error naming the four,
    numbered (a message has "; " of its own); one wrong field is named as it is."""
    with pytest.raises(RecordError) as raised:
        dataclasses.replace(HOLDING, source="mine", convention="columns",
                            setting=dataclasses.replace(HOLDING.setting, output=("sigmoidal",), depth=3))
    message = str(raised.value)
    assert message.startswith(f"formula {HOLDING.id!r}: (1) source must be a Source"), message
    for i, part in enumerate(["unknown convention 'columns'", "setting.output has unknown or no values ['sigmoidal']",
                              "setting.depth must be (low, high)"], start=2):
        assert f"({i}) {part}" in message, message
    assert "(5)" not in message
    with pytest.raises(RecordError, match=r"^formula '[^']+': unknown convention 'columns'; known: column, row$"):
        dataclasses.replace(HOLDING, convention="columns")
