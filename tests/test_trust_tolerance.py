"""The tolerance model on the cases the soak found, and a small soak: correct formulas never fail.

The case: an output pre-activation that is a cancelling sum (|z| far below M = Σ|W||a| + |b|), in float32.
a = g(z) then carries an absolute error ε·K·M that is a large fraction of itself, and a - y inherits it;
tolerance.forward_magnitudes puts M into the error scale (see tolerance.py's docstring for the evidence).
"""
import numpy as np
import pytest

from backprop_audit import references
from backprop_audit.judging import tolerance
from backprop_audit.judging.evaluate import evaluate
from backprop_audit.model.network import Layer, Network
from backprop_audit.trust.soak import CORRECT, soak
from backprop_audit.trust.trust import summary


def cancelling_network(rng, output):
    """Two layers, float32; output unit 0 of sample 0 gets the bias that cancels its sum to ~1e-5."""
    n0, n1, n2, N = 7, 8, 8, 5
    W1, b1 = rng.uniform(-1, 1, (n1, n0)), rng.uniform(-1, 1, n1)
    W2, b2 = rng.uniform(-1, 1, (n2, n1)), rng.uniform(-1, 1, n2)
    X = rng.uniform(-1, 1, (N, n0))
    a1 = (X @ W1.T + b1).astype(np.float32)
    b2[0] = -(a1[0] @ W2[0]) + 1e-5
    layers = (Layer(W1.astype(np.float32), b1.astype(np.float32), "identity"),
              Layer(W2.astype(np.float32), b2.astype(np.float32), output))
    Y = np.zeros((N, n2), np.float32)
    return Network(layers, "mean_half_sum_sq", X.astype(np.float32), Y, "onehot")


@pytest.mark.parametrize("output", ["tanh", "identity", "sigmoid"])
def test_a_cancelling_forward_sum_raises_no_false_alarm(output):
    rng = np.random.default_rng(7)
    cancelled = 0
    for _ in range(60):
        net = cancelling_network(rng, output)
        zs, acts = tolerance._forward64(net)
        M = tolerance.forward_magnitudes(net, zs, acts)
        cancelled += abs(zs[2][0, 0]) < 1e-3 * (M[1][0] @ np.abs(net.W(2)[0]) + abs(net.b(2)[0]))
        answers, tols = references.quantities(net), tolerance.tolerances(net)
        for formula in CORRECT:
            outcome = evaluate(formula, net, answers, tols)
            assert not outcome.failed, (formula.id, outcome.message)
    assert cancelled >= 50  # the networks really cancel: the test exercises the case


def test_a_small_soak_has_no_false_alarm_in_either_dtype():
    result = soak(400, seed=11, large=1)
    assert result.checks >= 400 and set(result.by_dtype) == {"float64", "float32"}
    assert {"large", "saturated", "logits", "tiny", "huge"} <= set(result.by_regime)
    assert not result.false_alarms, result.false_alarms[:3]
    assert 0 < result.worst_ratio <= 1


def test_smallest_erratum_ratio_is_the_minimum_over_minimal_counterexamples():
    record = lambda id_, ratio, killed=True: {"id": id_, "dtype": "float64", "killed": killed, "ratio": ratio,
                                             "expected_diagnosis": None, "diagnosed_as_expected": None,
                                             "network": "n"}
    report = summary([record("a", 1e6), record("b", None), record("c", 3e4)], [record("e", 5e5)],
                     {"worst_correct_ratio": 0.5, "soak_checks": 10, "soak_false_alarms": 0})
    assert report["smallest_erratum_ratio"] == 3e4 and report["smallest_erratum"].startswith("c ")
    assert report["errata_by_error"] == 1 and report["margin"] == 6e4
    assert report["mutants"] == 3 and report["mutants_killed"] == 3 and report["catalog_errata_found"] == 1


def test_a_flushed_subnormal_slope_times_a_large_gradient_raises_no_false_alarm():
    """float32 σ'(z) at z = -88 is subnormal (6e-39; below -88.7 σ(z) itself is 0): XLA flushes it to 0,
    torch keeps it, and a dC/da of 2e7 carries it into δ[1] = 1.2e-31, a normal number. The soak found this (seed 1, 45.8x the tolerance before
    the flush of g' was carried on the scale of dC/da)."""
    layers = (Layer(np.array([[-88.0]], np.float32), np.zeros(1, np.float32), "sigmoid"),
              Layer(np.array([[1e4]], np.float32), np.array([1e3], np.float32), "identity"))
    net = Network(layers, "sum_sq", np.ones((1, 1), np.float32), np.zeros((1, 1), np.float32), "real")
    answers = references.quantities(net)
    for formula in CORRECT:
        assert not evaluate(formula, net, answers).failed, formula.id


def test_a_check_knows_what_it_detects_and_a_check_that_would_pass_zeros_is_vacuous():
    """detects = min tol/|g|: a float64 check of an ordinary network catches a 1e-10 relative error; with a
    width-1 softmax output every gradient is 0, any multiple of it passes, and the check is vacuous."""
    rng = np.random.default_rng(0)
    layers = (Layer(rng.uniform(-1, 1, (4, 3)), rng.uniform(-1, 1, 4), "tanh"),
              Layer(rng.uniform(-1, 1, (2, 4)), rng.uniform(-1, 1, 2), "sigmoid"))
    ordinary = Network(layers, "mean_sum_sq", rng.uniform(-1, 1, (5, 3)), rng.uniform(-1, 1, (5, 2)), "real")
    dW = next(f for f in CORRECT if f.id == "correct-dW-row")
    checked = evaluate(dW, ordinary)
    assert checked.detects < 1e-10 and not checked.vacuous
    one_unit = (layers[0], Layer(rng.uniform(-1, 1, (1, 4)), rng.uniform(-1, 1, 1), "softmax"))
    constant = Network(one_unit, "softmax_ce", ordinary.X, np.ones((5, 1)), "prob")
    checked = evaluate(dW, constant)
    assert not checked.failed and checked.vacuous and checked.detects == np.inf
