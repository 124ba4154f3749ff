"""Preconditions that are true, failures of arithmetic named as such (verdicts/numerical.py, diagnose.py).

Each case is one the issue measured being explained by an invented precondition: a NaN at N = 3 only
("holds only when N = 1"), a float32 overflow of e^{-z} ("holds only when rows of y summing to 1"), a
rounding-level difference ("holds only when hidden activation tanh"), a precondition printed next to a
counterexample that meets it. Each is now the diagnosis it is, and a true precondition is still named."""
import dataclasses

import numpy as np
import pytest

from backprop_audit import Formula, Setting, Source
from backprop_audit.judging.evaluate import evaluate
from backprop_audit.model.network import Layer, Network
from backprop_audit.searching.search import search
from backprop_audit.verdicts.audit import audit
from backprop_audit.verdicts.diagnose import _precondition_diagnosis, diagnose

SOURCE = Source("test", "tests/test_diagnose_numerical.py", "a formula that fails by its arithmetic")
IDENTITY = Setting(depth=(1, 1), width=(1, 3), batch=(1, 4), output=("identity",), loss=("half_sum_sq",))
SIGMOID = IDENTITY.restricted(output=("sigmoid",), targets=("real", "onehot"))


def claim(compute, setting=IDENTITY, quantity="dC/dz[L]"):
    return Formula(id="claim", title="claim", source=SOURCE, written="-", convention="row", quantity=quantity,
                   setting=setting, compute=compute, expected="erratum")


def test_a_nan_at_one_batch_size_is_numerical_not_a_precondition(memory):
    """(a - y)(N - 3)/(N - 3): right everywhere but N = 3, where it is 0/0. Not "holds only when N = 1"."""
    formula = claim(lambda n: (n.a[n.L] - n.y) * (n.N - 3.0) / (n.N - 3.0))
    result = audit(formula, examples=40, dtypes=("float64",), memory=memory)
    assert result.verdict == "error" and result.counterexample.network.batch == 3
    assert result.diagnosis.kind == "numerical", result.diagnosis.text
    assert "divides 0 by 0" in result.diagnosis.text and "N = 1" not in result.diagnosis.text


def sigmoid_prime_by_exp(z):
    """σ'(z) = e^{-z}/(1 + e^{-z})², right in exact arithmetic."""
    return np.exp(-z) / (1 + np.exp(-z)) ** 2


def _saturated(dtype):
    """One sigmoid unit at z = -100: e^{100} overflows float32 (its largest is 3.4e38 ≈ e^{88.7})."""
    layer = Layer(np.array([[50.0]]), np.array([0.0]), "sigmoid")
    return Network((layer,), "half_sum_sq", np.array([[-2.0]]), np.array([[0.3]])).astype(dtype)


def test_a_float32_overflow_of_exp_is_numerical_with_a_stable_rewrite(memory):
    """σ'(z) written e^{-z}/(1 + e^{-z})²: NaN (inf/inf) in float32 at z = -100, where σ'(z) is a finite
    3.7e-44. Diagnosed as an overflow, rewritten with the table's σ'(z) = σ(1 - σ), never a precondition."""
    formula = claim(lambda n: (n.a[n.L] - n.y) * sigmoid_prime_by_exp(n.z[n.L]), setting=SIGMOID)
    outcome = evaluate(formula, _saturated(np.float32), memory=memory)
    assert outcome.kind == "nonfinite"
    found = diagnose(formula, [outcome], dtype="float32", memory=memory)
    assert found.kind == "numerical", found.text
    assert "np.exp(-z[1]) overflows" in found.text and "88.7" in found.text
    assert found.repair is not None and "σ'(z[1])" in found.repair.expression and found.repair.examples > 0
    assert evaluate(found.repair.formula, _saturated(np.float32), memory=memory).status == "holds"
    # the same formula in float64 at the same z is finite and right: the failure is float32's range
    assert evaluate(formula, _saturated(np.float64), memory=memory).status == "holds"


def test_a_log_of_an_underflowed_sigmoid_is_rewritten_as_log_sigmoid(memory):
    """C = -Σ log σ(z) for y = 1 written as the log of σ: log(0) = -inf once σ(z) underflows."""
    bce = Setting(depth=(1, 1), width=(1, 1), batch=(1, 1), output=("sigmoid",), loss=("sigmoid_bce",),
                  targets=("binary",))
    formula = claim(lambda n: -np.sum(n.y * np.log(1 / (1 + np.exp(-n.z[n.L])))
                                      + (1 - n.y) * np.log(1 - 1 / (1 + np.exp(-n.z[n.L])))) / n.N,
                    setting=bce, quantity="C")
    layer = Layer(np.array([[400.0]]), np.array([0.0]), "sigmoid")
    net = Network((layer,), "sigmoid_bce", np.array([[-2.0]]), np.array([[1.0]]), targets="binary")
    outcome = evaluate(formula, net, memory=memory)
    assert outcome.kind == "nonfinite"
    found = diagnose(formula, [outcome], dtype="float64", memory=memory)
    assert found.kind == "numerical" and "log of 0" in found.text, found.text
    assert found.repair is not None and "np.logaddexp" in found.repair.expression


def test_a_rounding_level_difference_is_reported_as_such(memory):
    """(a - y)(1 + 2⁻⁴⁵): a relative error of 3e-14, beyond float64's tolerance on some networks but
    within a few dozen tolerances on all. Not a precondition, not a factor."""
    formula = claim(lambda n: (n.a[n.L] - n.y) * (1 + 2.0 ** -45))
    result = audit(formula, examples=40, dtypes=("float64",), memory=memory)
    assert result.verdict == "fails"
    assert result.diagnosis.kind == "rounding", result.diagnosis.text
    assert "significant digits" in result.diagnosis.text


def test_a_precondition_is_not_named_when_a_failing_network_meets_it(memory):
    """(a - y)·N holds exactly at N = 1, and N = 1 is named; but not when a failure seen has N = 1 (the
    issue saw "holds only when N = 1" beside a counterexample whose batch was 1)."""
    formula = claim(lambda n: (n.a[n.L] - n.y) * n.N)
    failures = search(formula, examples=20, shrink=False, keep_going=True, seed=3, memory=memory).failures
    assert failures and all(o.network.batch > 1 for o in failures)
    named = _precondition_diagnosis(formula, failures, "float64", 100, memory)
    assert named is not None and named.fix == "require N = 1 (a single sample)"
    at_one = dataclasses.replace(failures[0], network=_one_sample(failures[0].network))  # a failure seen at N = 1
    assert _precondition_diagnosis(formula, [at_one] + failures, "float64", 100, memory) is None


def _one_sample(net):
    return Network(net.layers, net.loss, net.X[:1], net.Y[:1], net.targets)


SOFTPLUS = Setting(depth=(2, 4), width=(1, 16), input_width=(1, 16), batch=(1, 8), hidden=("softplus",),
                   output=("identity",), loss=("half_sum_sq",))


def test_a_derivative_form_that_cancels_in_float64_is_numerical_with_its_stable_rewrite():
    """softplus' = 1 - 1/(1 + e^z) is exact, and cancels for z << 0 (in float64 too, never a NaN): it was a repair
    of no edit, "holds after the edit : ...", with edits [] (an outside tester)."""
    cancels = claim(lambda v: ((v.a[v.L] - v.y) @ v.W[v.L].T) * (1 - 1 / (1 + np.exp(v.z[v.L - 1]))), SOFTPLUS,
                    "dC/dz[L-1]")
    result = audit(cancels, examples=30, dtypes=("float64",))
    assert result.verdict == "fails" and result.diagnosis.kind == "numerical", result.diagnosis.text
    assert "cancellation" in result.diagnosis.text and result.diagnosis.fix == "stable rewrite"
    assert result.diagnosis.repair.edits and result.diagnosis.repair.expression.endswith("softplus'(z[1])")


def test_a_factor_near_one_is_named_by_its_distance_from_one():
    """×(1 + 1e-6) was skipped as ≈ 1 and left "no simple fix found"; ×(1 + 1e-12) is rounding level (6x)."""
    tiny = claim(lambda v: (v.a[v.L] - v.y) * (1 + 1e-6))
    assert audit(tiny, examples=30, dtypes=("float64",)).diagnosis.text == \
        "holds when multiplied by (1 - 1e-06) (not a simple constant)"


def test_for_check_a_nan_answer_confirms_an_erratum():
    """An unstable formula meets a NaN (verdict error) or a finite mismatch first (fails) as the search happens to
    draw them: with a NaN answer an erratum, as with a wrong-shape one, both confirm `expected="erratum"`."""
    overflows = claim(lambda v: (v.a[v.L] - v.y) * np.exp(v.z[v.L] * 1e3) / np.exp(v.z[v.L] * 1e3))  # inf/inf, 0/0
    result = audit(overflows, examples=30, dtypes=("float64",), error_confirms_erratum=False)
    assert result.verdict == "error" and result.searches[0].minimal.kind == "nonfinite" and result.matches_expectation


def _logits(z, loss, output, targets):
    """A one-layer network whose logits z[1] are `z` (W = z as a column, x = 1, b = 0) and its first class as y."""
    z = np.asarray(z, dtype=np.float64)
    Y = np.zeros((1, z.size))
    Y[0, 0] = 1.0
    return Network((Layer(z[:, None], np.zeros(z.size), output),), loss, np.ones((1, 1)), Y, targets)


LOGITS = Setting(depth=(1, 1), width=(1, 4), batch=(1, 4), output=("softmax",), loss=("softmax_ce",),
                 targets=("onehot",))
LOGIT_PAIRS = LOGITS.restricted(output=("sigmoid",), loss=("sigmoid_bce",), targets=("binary",))


def _naive_softmax(z):
    e = np.exp(z)
    return e / np.sum(e, axis=1, keepdims=True)


def test_the_log_of_a_softmax_written_out_is_rewritten_as_log_softmax(memory):
    """log(e^z / Σ e^z) is -inf (or NaN) once a logit's exp under- or overflows; only the max-shifted log-softmax
    is finite there (the shifted softmax alone still underflows to 0 under the log): "no stable rewrite" before."""
    formula = claim(lambda v: -np.sum(v.y * np.log(_naive_softmax(v.z[v.L]))) / v.N, LOGITS, "C")
    outcome = evaluate(formula, _logits([1000.0, -1000.0], "softmax_ce", "softmax", "onehot"), memory=memory)
    found = diagnose(formula, [outcome], memory=memory)
    assert found.kind == "numerical" and "np.log(np.sum(np.exp(z[1] - np.max(z[1]" in found.text, found.text
    assert found.text.count("np.max") == 2  # shifted once (the softmax's shift is not shifted again)


def test_log_of_one_plus_exp_is_rewritten_as_logaddexp(memory):
    """softplus and -log σ(-z) written out as log(1 + e^z) overflow past z ≈ 709 where the value is ≈ z."""
    bce = lambda v: -np.sum(v.y * -np.log(1 + np.exp(-v.z[v.L])) + (1 - v.y) * -np.log(1 + np.exp(v.z[v.L]))) / v.N
    formula = claim(bce, LOGIT_PAIRS, "C")
    outcome = evaluate(formula, _logits([800.0], "sigmoid_bce", "sigmoid", "binary"), memory=memory)
    found = diagnose(formula, [outcome], memory=memory)
    assert found.kind == "numerical" and "np.logaddexp(0, z[1])" in found.text, found.text


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("compute, made_by", [
    (lambda n: (n.a[n.L] - n.y) * (0 * n.a[n.L]) / (0 * n.a[n.L]), "divides 0 by 0"),
    (lambda n: (n.a[n.L] - n.y) * np.sqrt(-1 - n.a[n.L] ** 2), "np.sqrt(-1 - a[1] ** 2)"),
], ids=["zero-over-zero", "sqrt-of-a-negative"])
def test_a_nan_the_formula_makes_everywhere_is_undefined_as_written_not_unstable(compute, made_by, dtype, memory):
    """NaN on every network, in extended precision too: not "numerically unstable ... an operand underflowed to
    0", which an outside reviewer was told for a 0/0 of a divisor that is 0 for every input."""
    result = audit(claim(compute), examples=20, dtypes=(dtype,), memory=memory)
    assert result.verdict == "error" and result.diagnosis.kind == "numerical", result.diagnosis.text
    assert result.diagnosis.fix == "undefined" and result.diagnosis.text.startswith("undefined as written")
    assert made_by in result.diagnosis.text and "underflowed" not in result.diagnosis.text


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_overflow_stays_numerically_unstable_since_extended_precision_holds_it(dtype, memory):
    """e^(1000 a) / e^(1000 a) overflows float64 past a = 0.71 (float32 past 0.089), never np.longdouble: the
    same check says "unstable" here, so it can tell the two apart."""
    formula = claim(lambda n: (n.a[n.L] - n.y) * np.exp(1000 * n.a[n.L]) / np.exp(1000 * n.a[n.L]))
    result = audit(formula, examples=40, dtypes=(dtype,), memory=memory)
    assert result.verdict == "error" and result.diagnosis.kind == "numerical", result.diagnosis.text
    assert result.diagnosis.fix != "undefined" and result.diagnosis.text.startswith("numerically unstable"), \
        result.diagnosis.text
