"""report.json follows its JSON Schema (report.schema.json, shipped in the package): a fresh report of
a few catalog records (one that holds with a precondition check, an erratum that fails, one that cannot
be evaluated), a claim whose check was stopped, input errors, and the renderers' fixture. The schema
must also refuse a report that lacks a required key or carries a verdict outside the vocabulary, and
list the same verdicts, findings and diagnosis kinds as backprop_audit.verdicts.vocabulary."""
import copy
import json
from pathlib import Path

import pytest

import backprop_audit
from backprop_audit import Setting
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


def test_a_fresh_reports_setting_is_the_records_setting(fresh):
    """setting is the record's Setting as data: Setting(**it) is the record's setting again."""
    by_id = {f.id: f for f in catalog()}
    for entry in fresh["formulas"]:
        rebuilt = Setting(**{k: tuple(v) if isinstance(v, list) else v for k, v in entry["setting"].items()})
        assert rebuilt == by_id[entry["id"]].setting, entry["id"]
    assert fresh["environment"]["backprop_audit"] == backprop_audit.__version__
    assert fresh["environment"]["jaxlib"]  # this suite runs with both oracles


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


def _failing_formula_below_one(report):
    """worst_error_ratio's one meaning: of the examples that decided the verdict, so > 1 where it fails."""
    next(f for f in report["formulas"] if f["verdict"] == "fails")["worst_error_ratio"] = 0.5


def _holding_formula_above_one(report):
    next(f for f in report["formulas"] if f["verdict"] == "holds")["worst_error_ratio"] = 2.0


def _failed_dtype_below_one(report):
    failing = next(f for f in report["formulas"] if f["verdict"] == "fails")
    next(d for d in failing["dtypes"].values() if not d["held"])["worst_error_ratio"] = 0.0


def _setting_as_text(report):
    report["formulas"][0]["setting"] = "depth 1-3; widths 1-5"


def _without_tool_version(report):
    del report["environment"]["backprop_audit"]


@pytest.mark.parametrize("breaks", [_without_verdict, _without_counterexample_message, _verdict_passes,
                                    _precondition_verdict_ok, _unlisted_key, _failing_formula_below_one,
                                    _holding_formula_above_one, _failed_dtype_below_one, _setting_as_text,
                                    _without_tool_version])
def test_the_schema_refuses_a_broken_report(fresh, breaks, schema_problems):
    broken = copy.deepcopy(fresh)
    breaks(broken)
    assert schema_problems(broken), f"{breaks.__name__}: the schema accepted it"


def test_the_schema_lists_the_vocabulary(report_schema):
    definitions = report_schema.schema["$defs"]
    assert definitions["verdict"]["enum"] == [v.value for v in Verdict]
    assert definitions["finding"]["enum"] == [f.value for f in Finding]
    assert definitions["diagnosis_kind"]["enum"] == [k.value for k in DiagnosisKind]
    from backprop_audit.model.operations import TARGET_KINDS  # "labels" was missing: catalog reports did not validate
    targets = definitions["setting"]["properties"]["targets"]
    assert targets["items"]["enum"] == list(TARGET_KINDS)

