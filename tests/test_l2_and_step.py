"""Setting(l2=...) and Setting(eta=...): C = loss + (λ/2) Σ‖W‖², and the parameters after one gradient
step, W'[l] = W - η·dC/dW, b'[l] = b - η·dC/db, judged as themselves (no read-back (W - W')/η)."""
import numpy as np
import pytest

from backprop_audit import Formula, RecordError, Setting, Source
from backprop_audit.judging import tolerance
from backprop_audit.judging.evaluate import evaluate
from backprop_audit.model.network import Layer, Network
from backprop_audit.references import finite_differences, jax_grad, torch_autograd
from backprop_audit.trust import backprop
from backprop_audit.verdicts.audit import audit
from backprop_audit.verdicts.entry import report_entry

SOURCE = Source("test", "tests/test_l2_and_step.py", "weight decay and a gradient step")
DTYPES = ("float64", "float32")
# Nielsen's network2 and CS231n's `reg`: the data term's gradient plus λW
REGULARIZED = Setting(depth=(1, 3), width=(1, 5), batch=(1, 4), l2=(0.01, 2.0))
STEPPED = Setting(depth=(1, 3), width=(1, 5), batch=(1, 4), l2=(0.0, 1.0), eta=(0.05, 4.0))


def claim(compute, quantity="dC/dW[l]", setting=REGULARIZED, expected="holds"):
    return Formula(id="known", title="known", source=SOURCE, written="-", convention="row", quantity=quantity,
                   setting=setting, compute=compute, expected=expected)


def run(formula, dtype, memory):
    return report_entry(audit(formula, examples=40, dtypes=(dtype,), memory=memory))


def data_term(n, l):
    return n.a[l - 1].T @ backprop.deltas(n)[l]


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_regularized_weight_gradient_holds_and_its_mistakes_fail(dtype, memory):
    assert run(claim(lambda n, l: data_term(n, l) + n.l2 * n.W[l]), dtype, memory)["verdict"] == "holds"
    for wrong in (lambda n, l: data_term(n, l), lambda n, l: data_term(n, l) + 2 * n.l2 * n.W[l]):
        assert run(claim(wrong, expected="erratum"), dtype, memory)["verdict"] == "fails"


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_step_holds_and_a_step_without_eta_or_the_l2_term_fails(dtype, memory):
    gradient = lambda n, l: data_term(n, l) + n.l2 * n.W[l]
    right = claim(lambda n, l: n.W[l] - n.eta * gradient(n, l), "W'[l]", STEPPED)
    assert run(right, dtype, memory)["verdict"] == "holds"
    bias = claim(lambda n, l: n.b[l] - n.eta * backprop.deltas(n)[l].sum(axis=0), "b'[l]", STEPPED)
    assert run(bias, dtype, memory)["verdict"] == "holds"
    for wrong in (lambda n, l: n.W[l] - gradient(n, l), lambda n, l: n.W[l] - n.eta * data_term(n, l),
                  lambda n, l: n.W[l] + n.eta * gradient(n, l)):
        assert run(claim(wrong, "W'[l]", STEPPED, "erratum"), dtype, memory)["verdict"] == "fails"


def _network(dtype, l2, eta, scale=1.0):
    rng = np.random.default_rng(3)
    widths = (3, 4, 2)
    layers = tuple(Layer((scale * rng.normal(size=(widths[l + 1], widths[l]))).astype(dtype),
                         rng.normal(size=widths[l + 1]).astype(dtype), act) for l, act in enumerate(("tanh", "sigmoid")))
    return Network(layers, "mean_half_sum_sq", rng.normal(size=(5, 3)).astype(dtype),
                   rng.normal(size=(5, 2)).astype(dtype), l2=l2, eta=eta)


def test_the_oracles_add_l2_and_step_in_their_own_frameworks():
    net = _network(np.float64, 0.7, 0.3)
    plain = _network(np.float64, 0.0, None)
    for oracle in (torch_autograd, jax_grad):
        q, p = oracle.quantities(net), oracle.quantities(plain)
        assert "W'[1]" not in p
        penalty = 0.35 * sum(float((layer.W ** 2).sum()) for layer in net.layers)
        np.testing.assert_allclose(q["C"], p["C"] + penalty, rtol=1e-13)
        for l in (1, 2):
            np.testing.assert_allclose(q[f"dC/dW[{l}]"], p[f"dC/dW[{l}]"] + 0.7 * net.W(l), rtol=1e-12, atol=1e-15)
            np.testing.assert_array_equal(q[f"dC/db[{l}]"], p[f"dC/db[{l}]"])
            np.testing.assert_allclose(q[f"W'[{l}]"], net.W(l) - 0.3 * q[f"dC/dW[{l}]"], rtol=1e-15)
    np.testing.assert_allclose(finite_differences.quantity(net, "W'[2]"), torch_autograd.quantities(net)["W'[2]"],
                               rtol=1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("eta", [1.0, 2.0 ** 40, 1e-6])
def test_a_correct_step_holds_at_any_eta_and_weight_scale(dtype, eta):
    """The read-back's false alarms (issue 14): η = 1 failed at 1.8-2.2x, η = 2^40 at 313x; as W' itself,
    with the step's rounding on |W| + η|g| in the tolerance, a correct step holds - and a step off by one
    part in 10^4 of η·g fails wherever η·g is not lost in W's own rounding."""
    gradient = lambda n, l: n.a[l - 1].T @ backprop.deltas(n)[l] + n.l2 * n.W[l]
    for scale in (1e-3, 1.0, 30.0):
        net = _network(dtype, 0.5, eta, scale)
        right = claim(lambda n, l: n.W[l] - n.eta * gradient(n, l), "W'[l]", STEPPED)
        assert not evaluate(right, net).failed
        off = claim(lambda n, l: n.W[l] - n.eta * (1 + 1e-4 if dtype == np.float64 else 1e-2) * gradient(n, l),
                    "W'[l]", STEPPED, "erratum")
        step = eta * np.abs(torch_autograd.quantities(net)["dC/dW[2]"])
        if step.max() > 1e4 * np.finfo(dtype).eps * np.abs(net.W(2)).max():
            assert evaluate(off, net).failed


def test_a_stack_judges_steps_as_a_network_alone():
    from backprop_audit.batching.padded import PaddedStack
    from backprop_audit.batching.screen import ToleranceView

    nets = [_network(np.float32, l2, eta) for l2, eta in ((0.0, 1.0), (0.4, 0.01), (2.0, 3.0))]
    stack = PaddedStack.of(nets)
    stacked = tolerance.tolerances(tolerance.Parameters.of_padded(stack))
    for g, net in enumerate(nets):
        alone, answers = tolerance.tolerances(net), torch_autograd.quantities(net)
        for q in ("C", "dC/dW[1]", "W'[1]", "b'[2]"):
            np.testing.assert_allclose(tolerance.tolerance_for(ToleranceView(stack, stacked, g)[q], answers[q]),
                                       tolerance.tolerance_for(alone[q], answers[q]), rtol=1e-8)  # as test_padded_tolerance: sums in another order


@pytest.mark.parametrize("changes, quantity, message", [
    (dict(l2=(-1.0, 1.0)), "dC/dW[l]", "l2 must be"),
    (dict(l2=(0.1, float("inf"))), "dC/dW[l]", "l2 must be"),
    (dict(eta=(0.0, 1.0)), "W'[l]", "eta must be"),
    (dict(eta="fast"), "W'[l]", "eta must be"),
    (dict(), "W'[l]", "needs eta=\\(low, high\\)"),
    (dict(eta=(0.1, 1.0)), "z'[l]", "unknown stepped parameter"),
])
def test_a_malformed_l2_or_eta_is_named(changes, quantity, message):
    with pytest.raises(RecordError, match=message):
        Formula(id="bad", title="bad", source=SOURCE, written="-", convention="row", quantity=quantity,
                setting=Setting(**changes), compute=lambda n, l: n.W[l])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_mistake_model_of_a_step_is_judged_on_the_step_not_on_the_steps_fields(dtype):
    """diagnose._fits widens a quantity's tolerance by its value-proportional part at a mistake model (the
    model's own rounding). A step's StepScale is (gradient pieces, W, η, rounding), not a gradient's
    (coefficient, B, amplification, floor): read as those, η·tol(g) became (pieces)·η, which raised TypeError
    (and a diagnosis of a step erratum with a model crashed: trust/mutants.py step-missing-derivative)."""
    net = _network(dtype, 0.0, 0.7, 1.0)
    scales, answers = tolerance.tolerances(net), torch_autograd.quantities(net)
    step, gradient = scales["W'[2]"], scales["dC/dW[2]"]
    assert isinstance(step, tolerance.StepScale)
    model_gradient = 3.0 * answers["dC/dW[2]"].astype(np.float64)  # a model far from the truth: its own scale must count
    eta = step.eta  # (the η the tolerance model holds: a float32 network's own, cast)
    model = net.W(2).astype(np.float64) - eta * model_gradient
    coefficient, _, amplification, _ = gradient
    expected = eta * coefficient * amplification * np.abs(model_gradient) + step.rounding * np.abs(eta * model_gradient)
    np.testing.assert_allclose(tolerance.value_tolerance(step, model), expected, rtol=1e-9)
    # a gradient's part is the expression _fits always used, to the bit
    assert np.array_equal(tolerance.value_tolerance(gradient, model_gradient),
                          coefficient * amplification * np.abs(model_gradient))
    assert np.all(tolerance.value_tolerance(step, model) > 0)
