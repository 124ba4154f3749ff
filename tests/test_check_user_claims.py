"""Your own claims through pytest: the same check as `backprop-audit check`, one test per claim.

    BACKPROP_AUDIT_CLAIMS=my_book.py:more_claims.py python -m pytest tests/test_check_user_claims.py

BACKPROP_AUDIT_CLAIMS lists claims files separated by the path separator (':' here); unset, it is the
worked example backprop_audit/examples/nielsen_book.py, so this file also guards that example in CI. Networks per
claim and dtype follow the Hypothesis profile (HYPOTHESIS_PROFILE=dev|ci|nightly).
"""
import os
from pathlib import Path

import pytest

import backprop_audit
from backprop_audit.searching import profiles
from backprop_audit.commands.claims import load_claims
from backprop_audit.commands.check import DEFAULT_TIME_LIMIT, audit_with_limit
from backprop_audit.verdicts.entry import report_entry

WORKED_EXAMPLE = Path(backprop_audit.__file__).parent / "examples" / "nielsen_book.py"
FILES = [p for p in os.environ.get("BACKPROP_AUDIT_CLAIMS", str(WORKED_EXAMPLE)).split(os.pathsep) if p]
LOADED = load_claims(FILES)
AUDIT = audit_with_limit(DEFAULT_TIME_LIMIT)
COMMAND = "backprop-audit check " + " ".join(FILES)


def test_every_claims_file_loads():
    assert not LOADED.problems, "input errors:\n" + "\n".join(map(str, LOADED.problems))


@pytest.mark.parametrize("claim", LOADED.claims, ids=lambda c: c.id)
def test_claim_matches_its_expectation(claim):
    entry = report_entry(AUDIT(claim, examples=profiles.examples_per_formula(), dtypes=("float64", "float32"),
                               seed=0, command=COMMAND))
    found = entry["counterexample"] or {}
    assert entry["matches_expectation"], (
        f"{claim.id}: verdict {entry['verdict']}, expected {claim.expected}; {found.get('message', '')} "
        f"diagnosis: {entry['diagnosis']}; reproduce: {found.get('reproduce', '')}")
