"""The sweep: its stacked oracle, view and tolerance equal the per-network ones (the tolerance to the bit);
a right formula passes a sweep, a wrong one is caught by it, confirmed by evaluate() and then shrunk by
Hypothesis to a small counterexample."""
import numpy as np
import pytest

from backprop_audit.judging import tolerance
from backprop_audit.trust.bench_formulas import WEIGHT_GRADIENT, WRONG_WEIGHT_GRADIENT
from backprop_audit.judging.compare import worst_ratio
from backprop_audit.model.convention import view_of
from backprop_audit.references import jax_grad, torch_autograd
from backprop_audit.judging.evaluate import evaluate
from backprop_audit.searching.strategies import DIGITS, SCALES
from backprop_audit.batching.sweep import (Architecture, manual_forward, random_stack, screen, shrink_failure,
                                           stacked_tolerances, stacked_view, sweep)

ARCHITECTURES = [
    Architecture((3, 5, 2), 4, ("sigmoid", "identity"), "mean_sum_sq", "real"),
    Architecture((4, 6, 6, 3), 5, ("relu", "tanh", "softmax"), "softmax_ce", "onehot"),
    Architecture((2, 3, 1), 3, ("tanh", "sigmoid"), "sigmoid_bce", "binary"),
]
# every activation in every position it can take, every loss
ALL_KINDS = ARCHITECTURES + [
    Architecture((2, 3, 3), 3, ("tanh", "softmax"), "half_sum_sq", "real"),
    Architecture((2, 3, 3, 2), 3, ("relu", "identity", "sigmoid"), "sum_sq", "real"),
    Architecture((2, 3, 3), 3, ("sigmoid", "relu"), "mean_half_sum_sq", "prob"),
    Architecture((1, 1), 1, ("identity",), "mean_half_sum_sq", "real"),
    Architecture((4, 8, 8, 3), 8, ("tanh", "sigmoid", "identity"), "mean_sum_sq", "real"),  # the benchmark's
]


def _all_names(L):
    return ["C"] + [f"dC/d{k}[{l}]" for l in range(1, L + 1) for k in ("W", "b", "z", "a")]


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=lambda a: a.loss)
def test_stacked_oracle_view_and_tolerance_equal_the_per_network_ones(arch):
    stack = random_stack(arch, 12, seed=1)
    names = [f"dC/dW[{l}]" for l in range(1, len(arch.activations) + 1)] + ["dC/dz[1]", "C"]
    oracle = torch_autograd.stacked_quantities(stack.Ws, stack.bs, stack.X, stack.Y, arch.activations, arch.loss)
    tolerances = stacked_tolerances(stack)
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
            np.testing.assert_allclose(tolerance.stacked_tolerance_for(tolerances[q], oracle[q])[i], expected_tol, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("arch", ALL_KINDS, ids=lambda a: f"{'/'.join(a.activations)}-{a.loss}")
def test_the_screen_tolerance_is_tolerance_py_to_the_bit(arch, dtype):
    """stacked_tolerances (the screen's) gives exactly tolerance.tolerances' numbers, for every quantity,
    with the manual forward pass reused or not; in float64 that pass is tolerance._forward64 to the bit."""
    stack = random_stack(arch, 40, seed=5, dtype=dtype)
    L = len(arch.activations)
    p = tolerance.Parameters(list(stack.Ws), list(stack.bs), tuple(arch.activations), arch.loss, stack.X, stack.Y)
    reference = tolerance.tolerances(p)
    forward = None
    if dtype == "float64":
        forward = manual_forward(stack)
        zs, acts = tolerance._forward64(p)
        for l in range(L + 1):
            np.testing.assert_array_equal(forward[1][l], acts[l])
            if l:
                np.testing.assert_array_equal(forward[0][l], zs[l])
    for given in (forward, None):
        got = stacked_tolerances(stack, given)
        assert sorted(got) == sorted(_all_names(L))
        for q in _all_names(L):
            assert got[q][0] == reference[q][0] and got[q][3] == reference[q][3], q
            np.testing.assert_array_equal(got[q][2], reference[q][2])
            np.testing.assert_array_equal(got[q][1], reference[q][1], err_msg=q)
    for i in range(0, stack.count, 7):  # and the stack's numbers are each network's own
        one = tolerance.tolerances(stack.network(i))
        for q in _all_names(L):
            np.testing.assert_allclose(reference[q][1][i], one[q][1], rtol=1e-14, atol=0, err_msg=q)
            assert reference[q][2][i] == pytest.approx(one[q][2], rel=1e-14)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("arch", ALL_KINDS, ids=lambda a: f"{'/'.join(a.activations)}-{a.loss}")
def test_the_stacked_torch_oracle_is_the_per_network_one(arch, dtype):
    """One autograd backward of the summed costs of the stack gives each network the gradient
    torch_autograd.quantities gives it alone; asking for some quantities gives the same numbers."""
    stack = random_stack(arch, 12, seed=3, dtype=dtype)
    L = len(arch.activations)
    every = torch_autograd.stacked_quantities(stack.Ws, stack.bs, stack.X, stack.Y, arch.activations, arch.loss)
    assert set(every) == set(_all_names(L))
    scales = tolerance.tolerances(tolerance.Parameters(list(stack.Ws), list(stack.bs), tuple(arch.activations),
                                                       arch.loss, stack.X, stack.Y))
    for i in range(stack.count):
        alone = torch_autograd.quantities(stack.network(i))
        for q in alone:
            tol = tolerance.tolerance_for((scales[q][0], scales[q][1][i], scales[q][2][i], scales[q][3]), alone[q])
            # rounding, not a different derivative (which misses by O(|g|)): 0.01 of the tolerance
            assert worst_ratio(every[q][i], alone[q], tol)[0] <= 0.01, q
    some = [f"dC/dW[{L}]", "dC/dz[1]", "C"]
    subset = torch_autograd.stacked_quantities(stack.Ws, stack.bs, stack.X, stack.Y, arch.activations, arch.loss,
                                               names=some)
    assert set(subset) == set(some)
    for q in some:
        np.testing.assert_array_equal(subset[q], every[q])


def test_random_stack_keeps_the_strategies_promises():
    arch = Architecture((4, 4, 3), 6, ("relu", "identity"), "sum_sq", "real")
    stack = random_stack(arch, 200, seed=2)
    for i in range(stack.count):
        net = stack.network(i)
        for layer in net.layers:
            assert np.ptp(layer.W) > 1e-3 * (np.abs(layer.W).max() + 1e-3)  # never near-constant
        z = net.X @ net.layers[0].W.T + net.layers[0].b
        assert np.abs(z).min() >= 1e-3 / 2  # off the relu kink


def test_random_stack_draws_short_decimals():
    """Every network's entries are k·scale / 10^digits for one of strategies' scales and digits (the
    ramp added to a near-constant matrix keeps that form for digits >= 1)."""
    arch = Architecture((4, 8, 8, 3), 8, ("tanh", "sigmoid", "identity"), "mean_sum_sq", "real")
    stack = random_stack(arch, 300, seed=4)
    for i in range(stack.count):
        net = stack.network(i)
        values = np.concatenate([m.ravel() for layer in net.layers for m in (layer.W, layer.b)] + [net.X.ravel(), net.Y.ravel()])
        assert np.abs(values).max() <= 1.5 * max(SCALES)
        assert any(np.allclose(values / s * 10.0**p, np.rint(values / s * 10.0**p), rtol=0, atol=1e-6)
                   for s in SCALES for p in DIGITS), values


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_right_formula_passes_a_sweep(dtype):
    arch = ARCHITECTURES[0]
    result = sweep(WEIGHT_GRADIENT, arch, 2000, dtype=dtype)
    assert result.networks == 2000 and result.broadcast
    assert result.failures == []


def _grad_doubled_where_x00_positive(n, l):
    """dC/dW[l], doubled on the networks whose first input entry is positive (broadcasts over a stack)."""
    from backprop_audit.trust.backprop import weight_gradient

    return np.where(n.x[..., :1, :1] > 0, 2.0, 1.0) * weight_gradient(n, l)


def _grad_off_by(relative):
    from backprop_audit.trust.backprop import weight_gradient

    return lambda n, l: weight_gradient(n, l) * (1 + relative)


@pytest.mark.parametrize("chunk", [64, 10_000])
def test_the_screen_flags_exactly_the_networks_a_formula_is_wrong_on(chunk):
    """Wrong on about half the networks: those, and only those, are flagged (over several chunks too);
    evaluate() confirms every one it re-checks, and passes the ones the screen let through."""
    from backprop_audit import Formula

    arch = Architecture((4, 8, 8, 3), 8, ("tanh", "sigmoid", "identity"), "mean_sum_sq", "real")
    half = Formula(id="half-wrong", title="t", source=WEIGHT_GRADIENT.source, written="-", convention="row",
                   quantity="dC/dW[l]", setting=WEIGHT_GRADIENT.setting, compute=_grad_doubled_where_x00_positive)
    stack = random_stack(arch, 300, seed=9)
    flagged, broadcast = screen(half, stack)
    assert broadcast
    np.testing.assert_array_equal(flagged, stack.X[:, 0, 0] > 0)
    for i in list(np.flatnonzero(flagged)[:3]) + list(np.flatnonzero(~flagged)[:3]):
        assert evaluate(half, stack.network(int(i))).failed == bool(flagged[i])
    result = sweep(half, arch, 300, chunk=chunk, confirm=25)
    assert 100 < result.flagged < 200 and result.confirmed == 25 and len(result.failures) == 25


def test_the_screen_is_as_strict_as_the_tolerance():
    """A formula off by a relative 1e-9 (far below any plotting or printing precision, far above the
    float64 tolerance) is flagged on every network and confirmed; one off by 1e-17 (below rounding) is not."""
    from backprop_audit import Formula

    arch = Architecture((4, 8, 8, 3), 8, ("tanh", "sigmoid", "identity"), "mean_sum_sq", "real")
    make = lambda r: Formula(id=f"off-{r}", title="t", source=WEIGHT_GRADIENT.source, written="-", convention="row",
                             quantity="dC/dW[l]", setting=WEIGHT_GRADIENT.setting, compute=_grad_off_by(r))
    off = sweep(make(1e-9), arch, 500, confirm=5)
    assert off.flagged == 500 and len(off.failures) == 5
    assert sweep(make(1e-17), arch, 500).flagged == 0


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
