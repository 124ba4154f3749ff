"""report.json follows its JSON Schema (report.schema.json, shipped in the package): a fresh report of
a few catalog records (one that holds with a precondition check, an erratum that fails, one that cannot
be evaluated), a claim whose check was stopped, input errors, and the renderers' fixture. The schema
must also refuse a report that lacks a required key or carries a verdict outside the vocabulary, and
list the same verdicts, findings and diagnosis kinds as backprop_audit.verdicts.vocabulary."""
import copy
import json
from pathlib import Path

import pytest

from backprop_audit.commands.claims import Problem
from backprop_audit.manual import catalog
from backprop_audit.reports.render_json import render_json
from backprop_audit.verdicts.entry import report_entry
from backprop_audit.verdicts.result import FormulaResult, Stop
from backprop_audit.verdicts.run import run
from backprop_audit.verdicts.vocabulary import DiagnosisKind, Finding, Verdict

FIXTURE = Path(__file__).with_name("test_report_fixture.json")
RECORDS = ("000-output-weight-gradient-literal", "000-output-weight-gradient-corrected",
           "003-jacobian-transpose-as-printed")


@pytest.fixture(scope="module")
def fresh():
    """report.json of a small run, with one stopped claim and one input error added as `check` adds them."""
    by_id = {f.id: f for f in catalog()}
    report = run([by_id[i] for i in RECORDS], examples=5, dtypes=("float64",))
    stopped = FormulaResult.stopped(by_id[RECORDS[0]], Stop(Finding.TIME_LIMIT, "time limit: still running"),
                                    seconds=1.5, reproduce="backprop-audit check claims.py --only x")
    report["formulas"].append(report_entry(stopped))
    report["input_errors"] = [Problem("claims.py", "syntax error", line=3).as_dict()]
    return json.loads(render_json(report))


def test_a_fresh_report_follows_the_schema(fresh, schema_problems):
    assert {f["verdict"] for f in fresh["formulas"]} == {"holds", "fails", "error"}
    assert any(f["precondition_check"] for f in fresh["formulas"])
    assert schema_problems(fresh) == []


def test_the_renderers_fixture_follows_the_schema(schema_problems):
    assert schema_problems(json.loads(FIXTURE.read_text())) == []


def test_a_stopped_claim_has_every_key_of_an_audited_one(fresh):
    audited, stopped = fresh["formulas"][0], fresh["formulas"][-1]
    assert stopped["verdict"] == "error" and stopped["counterexample"]["kind"] == "time limit"
    assert stopped.keys() == audited.keys()
    assert stopped["counterexample"].keys() == audited["counterexample"].keys()


def _without_verdict(report):
    del report["formulas"][0]["verdict"]


def _without_counterexample_message(report):
    del next(f for f in report["formulas"] if f["counterexample"])["counterexample"]["message"]


def _verdict_passes(report):
    report["formulas"][0]["verdict"] = "passes"


def _precondition_verdict_ok(report):
    next(f for f in report["formulas"] if f["precondition_check"])["precondition_check"]["verdict"] = "ok"


def _unlisted_key(report):
    report["formulas"][0]["undocumented"] = 1


@pytest.mark.parametrize("breaks", [_without_verdict, _without_counterexample_message, _verdict_passes,
                                    _precondition_verdict_ok, _unlisted_key])
def test_the_schema_refuses_a_broken_report(fresh, breaks, schema_problems):
    broken = copy.deepcopy(fresh)
    breaks(broken)
    assert schema_problems(broken), f"{breaks.__name__}: the schema accepted it"


def test_the_schema_lists_the_vocabulary(report_schema):
    definitions = report_schema.schema["$defs"]
    assert definitions["verdict"]["enum"] == [v.value for v in Verdict]
    assert definitions["finding"]["enum"] == [f.value for f in Finding]
    assert definitions["diagnosis_kind"]["enum"] == [k.value for k in DiagnosisKind]
