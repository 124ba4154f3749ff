"""The engine on formulas whose truth we know: right ones hold, wrong ones fail with the right
diagnosis, broken ones are verdict "error" with a message, in float64 and float32."""
import numpy as np
import pytest

from backprop_audit import Formula, Setting, Source
from backprop_audit.verdicts.audit import audit
from backprop_audit.verdicts.entry import report_entry

SOURCE = Source("test", "tests/test_engine.py", "a formula whose truth is known")
DTYPES = ("float64", "float32")
IDENTITY_HALF_SQ = Setting(loss=("half_sum_sq",), output=("identity",))


def claim(compute, quantity="dC/dz[L]", setting=IDENTITY_HALF_SQ, convention="row", expected="holds"):
    return Formula(id="known", title="known", source=SOURCE, written="-", convention=convention,
                   quantity=quantity, setting=setting, compute=compute, expected=expected)


@pytest.fixture
def run(memory):
    """run(formula, dtype) -> the report entry of audit() of `formula` in `dtype` on 60 networks, with the session's memory."""
    return lambda formula, dtype: report_entry(audit(formula, examples=60, dtypes=(dtype,), memory=memory))


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_right_formula_holds(dtype, run):
    result = run(claim(lambda n: n.a[n.L] - n.y), dtype)
    assert result["verdict"] == "holds" and result["examples"] == 60


@pytest.mark.parametrize("dtype", DTYPES)
def test_weight_gradient_holds_in_both_conventions(dtype, run):
    delta = lambda n: n.a[n.L] - n.y
    row = claim(lambda n: n.a[n.L - 1].T @ delta(n), quantity="dC/dW[L]")
    column = claim(lambda n: delta(n) @ n.a[n.L - 1].T, quantity="dC/dW[L]", convention="column")
    assert run(row, dtype)["verdict"] == "holds"
    assert run(column, dtype)["verdict"] == "holds"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("wrong, diagnosis", [
    (lambda n: 2 * (n.a[n.L] - n.y), "multiplied by 1/2"),
    (lambda n: n.y - n.a[n.L], "sign flipped"),
])
def test_a_wrong_formula_fails_with_its_diagnosis(dtype, wrong, diagnosis, run):
    result = run(claim(wrong, expected="erratum"), dtype)
    assert result["verdict"] == "fails"
    assert diagnosis in result["diagnosis"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_missing_mean_is_diagnosed_as_one_over_n(dtype, run):
    setting = Setting(loss=("mean_half_sum_sq",), output=("identity",))
    result = run(claim(lambda n: n.a[n.L] - n.y, setting=setting), dtype)
    assert result["verdict"] == "fails" and "1/N" in result["diagnosis"]
    assert result["counterexample"]["network"]["batch"] == 2  # shrunk to the smallest batch that shows it


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_transposed_weight_gradient_is_diagnosed(dtype, run):
    wrong = claim(lambda n: (n.a[n.L] - n.y).T @ n.a[n.L - 1], quantity="dC/dW[L]")
    result = run(wrong, dtype)
    assert result["verdict"] in ("fails", "error") and "transpose" in result["diagnosis"]


@pytest.mark.parametrize("broken, message", [
    (lambda n: 1 / 0, "ZeroDivisionError"),
    (lambda n: np.zeros((7, 7, 7)), "shape"),
    (lambda n: np.full_like(n.a[n.L], np.nan), "non-finite"),
    (lambda n: "text", "not an array"),
])
def test_a_broken_formula_is_an_error_verdict_not_a_crash(broken, message, run):
    result = run(claim(broken), "float64")
    assert result["verdict"] == "error"
    assert message in result["counterexample"]["message"]


def test_a_float32_formula_that_computes_in_float64_is_caught(run):
    result = run(claim(lambda n: (n.a[n.L] - n.y).astype(np.float64)), "float32")
    assert result["verdict"] == "error" and "dtype" in result["counterexample"]["message"]


def test_failure_message_names_formula_quantity_layer_index_and_values(run):
    result = run(claim(lambda n: 2 * (n.a[n.L] - n.y)), "float64")
    message = result["counterexample"]["message"]
    for part in ("known", "dC/dz[", "layer", "index", "manual", "torch", "jax", "tolerance"):
        assert part in message, (part, message)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, loss", [("sigmoid", "half_sum_sq"), ("softmax", "softmax_ce")])
def test_saturated_sigmoid_and_large_logits_raise_no_false_alarm(dtype, output, loss):
    from backprop_audit.searching.search import search
    from backprop_audit.searching.strategies import networks

    setting = Setting(hidden=("sigmoid",), output=(output,), loss=(loss,), targets=("onehot",))
    right = claim(lambda n, l: _true_delta(n, l), quantity="dC/dz[l]", setting=setting)
    strategy = networks(setting, dtype=np.dtype(dtype), scales=(8.0, 16.0, 30.0), input_scales=(4.0, 8.0))
    result = search(right, dtype=dtype, examples=60, strategy=strategy)
    assert result.held, result.minimal.message
    assert result.passed == 60


def _true_delta(n, l):
    """δ in row layout, written out for sigmoid hidden layers and the two outputs used above."""
    from backprop_audit.model.operations import sigmoid_prime

    a_out = n.a[n.L]
    delta = (a_out - n.y) / n.N if n.loss == "softmax_ce" else (a_out - n.y) * a_out * (1 - a_out)
    for k in range(n.L - 1, l - 1, -1):
        delta = (delta @ n.W[k + 1].T) * sigmoid_prime(n.z[k])
    return delta


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_weight_gradient_missing_the_activation_derivative_is_diagnosed(dtype, run):
    """dC/dW[L] written as (a - y)·aᵀ on a sigmoid output: the ⊙ σ'(z) is left out."""
    setting = Setting(output=("sigmoid",), loss=("half_sum_sq",))
    wrong = claim(lambda n: n.a[n.L - 1].T @ (n.a[n.L] - n.y), quantity="dC/dW[L]", setting=setting)
    result = run(wrong, dtype)
    assert result["verdict"] == "fails" and "g'(z) is missing" in result["diagnosis"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_networks_tolerances_and_oracle_agreement_are_judged_once_for_every_formula(dtype, monkeypatch):
    """evaluate() remembers the formula-independent half of a check per network in the run's memory
    (evaluate._judged): a second formula on the same network computes no tolerance again, and every
    outcome equals the one computed from scratch."""
    from backprop_audit.judging import evaluate as evaluate_module
    from backprop_audit.judging import tolerance
    from backprop_audit.judging.memory import RunMemory
    from backprop_audit.trust.bench_formulas import DEFAULT_DISTRIBUTION, WEIGHT_GRADIENT, WRONG_WEIGHT_GRADIENT
    from backprop_audit.searching.search import draw
    from backprop_audit.searching.strategies import networks

    nets = draw(networks(DEFAULT_DISTRIBUTION, dtype=np.dtype(dtype)), 20, seed=9)
    formulas = (WEIGHT_GRADIENT, WRONG_WEIGHT_GRADIENT)

    def fields(outcome):
        return outcome.status, outcome.kind, outcome.ratio, outcome.message, outcome.quantity, outcome.oracle_ratio, outcome.oracle_note

    scratch = [fields(evaluate_module.evaluate(formula, net, memory=RunMemory())) for net in nets for formula in formulas]
    computed, memory = [], RunMemory()
    real_tolerances = tolerance.tolerances
    monkeypatch.setattr(tolerance, "tolerances", lambda net, *a, **k: computed.append(net) or real_tolerances(net, *a, **k))
    remembered = [fields(evaluate_module.evaluate(formula, net, memory=memory)) for net in nets for formula in formulas]
    assert remembered == scratch
    assert len(computed) == len(nets)  # once per network, not once per formula


def test_a_float32_claim_answering_in_float64_is_an_error_that_says_why_and_how_to_cast():
    """An outside tester's correct leaky ReLU, np.where(z > 0, 1.0, 0.01), was an error with no word of NumPy's
    promotion; the other way round (float32 for float64) there is no such hint."""
    from backprop_audit.judging.compare import UPCAST_HINT, compare_entrywise

    truth = {"torch": np.ones((2, 2), np.float32), "jax": np.ones((2, 2), np.float32)}
    upcast = compare_entrywise("c", np.ones((2, 2)), truth, np.full((2, 2), 1e-6), np.float32)
    assert not upcast.ok and upcast.problem == "c: dtype float64, expected float32" + UPCAST_HINT
    assert ".astype(z.dtype)" in UPCAST_HINT
    down = compare_entrywise("c", np.ones((2, 2), np.float32), {k: v.astype(np.float64) for k, v in truth.items()},
                             np.full((2, 2), 1e-12), np.float64)
    assert not down.ok and down.problem == "c: dtype float32, expected float64"


def test_for_check_a_wrong_shape_answer_confirms_an_erratum_and_a_crash_does_not():
    """`check` judges the user's claims with error_confirms_erratum=False: a claim that crashes says nothing about
    its mathematics. A transposed dW of a non-square layer is an answer, wrong: an outside tester's planted
    transposes could never be recorded as errata."""
    from backprop_audit import Formula, Setting, Source
    from backprop_audit.verdicts.audit import audit

    setting = Setting(depth=(1, 1), input_width=(2, 2), output_width=(3, 3), output=("identity",), loss=("half_sum_sq",))

    def erratum(id, compute):
        return Formula(id=id, title=id, source=Source("-", "-", "-"), written="-", convention="column",
                       quantity="dC/dW[1]", setting=setting, compute=compute, expected="erratum")

    transposed = audit(erratum("transposed", lambda v: v.a[0] @ (v.a[1] - v.y).T), examples=20,
                       dtypes=("float64",), error_confirms_erratum=False)
    assert transposed.verdict == "error" and transposed.matches_expectation
    crashes = audit(erratum("crashes", lambda v: v.a[5]), examples=20, dtypes=("float64",), error_confirms_erratum=False)
    assert crashes.verdict == "error" and not crashes.matches_expectation


def test_a_mismatch_prints_as_many_digits_as_it_takes_to_tell_manual_from_oracle():
    from backprop_audit.judging.compare import compare_entrywise

    truth = np.array([[1.3766768344e-05]])
    off = truth * (1 + 3e-12)  # equal to 10 digits
    found = compare_entrywise("c", off, {"torch": truth, "jax": truth}, np.full((1, 1), 1e-20), np.float64)
    manual, torch = found.problem.split("manual ")[1].split(", torch ")
    assert manual != torch.split(",")[0] and len(manual) > len("1.3766768344e-05")
    plain = compare_entrywise("c", 2 * truth, {"torch": truth, "jax": truth}, np.full((1, 1), 1e-20), np.float64)
    assert "manual 2.7533536688e-05, torch 1.3766768344e-05" in plain.problem  # 10 digits where they suffice
