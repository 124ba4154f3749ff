"""The sweep: its stacked oracle, view and tolerance equal the per-network ones; a right formula passes
a sweep, a wrong one is caught by it and then shrunk by Hypothesis to a small counterexample."""
import numpy as np
import pytest

from backprop_audit import tolerance
from backprop_audit.bench_formulas import WEIGHT_GRADIENT, WRONG_WEIGHT_GRADIENT
from backprop_audit.compare import worst_ratio
from backprop_audit.convention import view_of
from backprop_audit.references import jax_grad, torch_autograd
from backprop_audit.sweep import (Architecture, _stacked_tol, random_stack, shrink_failure, stacked_tolerances,
                                  stacked_view, sweep)

ARCHITECTURES = [
    Architecture((3, 5, 2), 4, ("sigmoid", "identity"), "mean_sum_sq", "real"),
    Architecture((4, 6, 6, 3), 5, ("relu", "tanh", "softmax"), "softmax_ce", "onehot"),
    Architecture((2, 3, 1), 3, ("tanh", "sigmoid"), "sigmoid_bce", "binary"),
]


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=lambda a: a.loss)
def test_stacked_oracle_view_and_tolerance_equal_the_per_network_ones(arch):
    stack = random_stack(arch, 12, seed=1)
    names = [f"dC/dW[{l}]" for l in range(1, len(arch.activations) + 1)] + ["dC/dz[1]", "C"]
    oracle = torch_autograd.stacked_quantities(stack.Ws, stack.bs, stack.X, stack.Y, arch.activations, arch.loss)
    tolerances = stacked_tolerances(stack, names)
    for convention in ("row", "column"):
        view = stacked_view(stack, convention)
        for i in range(stack.count):
            single = view_of(stack.network(i), convention)
            for l in range(1, single.L + 1):
                np.testing.assert_allclose(view.a[l][i], single.a[l], rtol=1e-12, atol=1e-300)
                np.testing.assert_array_equal(view.W[l][i], single.W[l])
    for i in range(stack.count):
        net = stack.network(i)
        per_network, reference = tolerance.tolerances(net), jax_grad.quantities(net)
        for q in names:
            expected_tol = tolerance.tolerance_for(per_network[q], reference[q])
            assert worst_ratio(oracle[q][i], reference[q], expected_tol)[0] <= 1.0, q  # the vmapped torch agrees with jax
            np.testing.assert_allclose(_stacked_tol(tolerances[q], oracle[q])[i], expected_tol, rtol=1e-6)


def test_random_stack_keeps_the_strategies_promises():
    arch = Architecture((4, 4, 3), 6, ("relu", "identity"), "sum_sq", "real")
    stack = random_stack(arch, 200, seed=2)
    for i in range(stack.count):
        net = stack.network(i)
        for layer in net.layers:
            assert np.ptp(layer.W) > 1e-3 * (np.abs(layer.W).max() + 1e-3)  # never near-constant
        z = net.X @ net.layers[0].W.T + net.layers[0].b
        assert np.abs(z).min() >= 1e-3 / 2  # off the relu kink


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_right_formula_passes_a_sweep(dtype):
    arch = ARCHITECTURES[0]
    result = sweep(WEIGHT_GRADIENT, arch, 2000, dtype=dtype)
    assert result.networks == 2000 and result.broadcast
    assert result.failures == []


def test_a_wrong_formula_found_by_the_sweep_ends_shrunk():
    arch = Architecture((5, 7, 4), 6, ("tanh", "identity"), "mean_sum_sq", "real")
    found = sweep(WRONG_WEIGHT_GRADIENT, arch, 500)
    assert found.flagged == 500 and found.failures  # every network flagged, failures confirmed by evaluate()
    shrunk = shrink_failure(WRONG_WEIGHT_GRADIENT, arch, examples=50)
    assert not shrunk.held
    net = shrunk.minimal.network
    assert net.widths == (1, 1) and net.batch == 1, net.describe()  # Hypothesis shrank it to the smallest


def test_a_formula_that_cannot_broadcast_is_run_network_by_network():
    from backprop_audit import Formula

    looped = Formula(id="looped", title="t", source=WEIGHT_GRADIENT.source, written="-", convention="column",
                     quantity="dC/dz[L]", setting=WEIGHT_GRADIENT.setting,
                     compute=lambda n: (n.a[n.L] - n.y) * 2 / n.N)  # mean_sum_sq, identity output: right
    arch = ARCHITECTURES[0]
    result = sweep(looped, arch, 50)
    assert result.failures == [] and result.networks == 50
    wrong = Formula(id="looped-wrong", title="t", source=WEIGHT_GRADIENT.source, written="-", convention="column",
                    quantity="dC/dz[L]", setting=WEIGHT_GRADIENT.setting, compute=lambda n: (n.a[n.L] - n.y).T.T * 2)
    assert sweep(wrong, arch, 50).failures
