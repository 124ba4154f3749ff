"""The diagnosis of a failing claim about the cost C itself: C has no layer, so every transform that
looks at a layer (a neighbour layer, another quantity of the same layer, a gradient missing ⊙ g'(z))
must pass over it, and the diagnosis still names a fix or says there is none; it never crashes."""
import numpy as np

from backprop_audit import Formula, Setting, Source
from backprop_audit.verdicts.audit import audit
from backprop_audit.verdicts.entry import report_entry

SOURCE = Source("test", "tests/test_diagnose_cost.py", "a cost written wrong")
HALF_SUM = Setting(output=("identity",), loss=("half_sum_sq",))


def cost_claim(compute):
    return Formula(id="cost", title="cost", source=SOURCE, written="-", convention="row", quantity="C",
                   setting=HALF_SUM, compute=compute, expected="erratum")


def test_a_cost_missing_the_half_of_a_half_sum_gets_the_factor_diagnosis():
    result = report_entry(audit(cost_claim(lambda n: np.sum((n.a[n.L] - n.y) ** 2)), examples=40, dtypes=("float64",)))
    assert result["verdict"] == "fails"
    assert result["diagnosis"] == "holds when multiplied by 1/2"


def test_a_cost_with_no_simple_fix_gets_a_diagnosis_not_a_crash():
    """Σ|a - y| for ½Σ(a - y)²: no constant, transpose or layer change makes it the cost."""
    result = report_entry(audit(cost_claim(lambda n: np.sum(np.abs(n.a[n.L] - n.y))), examples=40, dtypes=("float64",)))
    assert result["verdict"] == "fails"
    assert result["diagnosis"] == "no simple fix found"
