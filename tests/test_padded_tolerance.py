"""The tolerance model and kink test run on a padded stack (tolerance.Parameters.of_padded) give, network
by network, what they give on each network alone: tolerance.tolerances(net) and evaluate.kinks(net).

Networks: Hypothesis draws from the default distribution (bench.draw_networks), in float64 and
float32, plus hand-built ones for what a sample of the distribution may lack (cross-entropies, a
softmax under a squared loss, relu, depth 1 and 4, width 1, batch 1, saturated outputs)."""

import numpy as np
import pytest

from backprop_audit.judging import evaluate
from backprop_audit.judging import tolerance
from backprop_audit.trust.bench import draw_networks
from backprop_audit.trust.bench_formulas import DEFAULT_DISTRIBUTION
from backprop_audit.model.network import Layer, Network
from backprop_audit.model.quantity import Quantity, quantity_names
from backprop_audit.batching.padded import BATCH, CHUNK, DEPTH, WIDTH, PaddedStack, chunks

DTYPES = ("float64", "float32")
RELATIVE = 1e-12  # zero padding may change only the order of the (nonnegative) sums


def padded_tolerances(stack):
    """tolerance.tolerances on the whole stack at once."""
    return tolerance.tolerances(tolerance.Parameters.of_padded(stack))


def padded_kinks(stack):
    """Per network, whether the kink test finds a unit on its kink, on the whole stack at once."""
    return tolerance.on_a_kink(tolerance.Parameters.of_padded(stack))


def _network(rng, widths, activations, loss, batch, targets="real", scale=1.0, bias=0.5):
    layers = tuple(Layer(scale * rng.standard_normal((widths[l], widths[l - 1])), bias * rng.standard_normal(widths[l]),
                         activations[l - 1]) for l in range(1, len(widths)))
    X = rng.standard_normal((batch, widths[0]))
    if targets == "onehot":
        Y = np.eye(widths[-1])[rng.integers(widths[-1], size=batch)]
    elif targets == "binary":
        Y = rng.integers(2, size=(batch, widths[-1])).astype(float)
    else:
        Y = rng.standard_normal((batch, widths[-1]))
    return Network(layers, loss, X, Y, targets)


def hand_built(dtype) -> list:
    rng = np.random.default_rng(7)
    nets = [
        _network(rng, [4, 6, 5], ["relu", "softmax"], "softmax_ce", 9, "onehot"),
        _network(rng, [3, 2], ["sigmoid"], "sigmoid_bce", 1, "binary"),  # depth 1, batch 1
        _network(rng, [5, 7, 3, 4], ["tanh", "sigmoid", "softmax"], "sum_sq", 12),  # softmax, squared loss
        _network(rng, [2, 3, 1], ["relu", "softmax"], "mean_half_sum_sq", 5),  # softmax over one unit
        _network(rng, [WIDTH, 1, WIDTH, 1, WIDTH], ["relu", "relu", "relu", "identity"], "mean_sum_sq", BATCH),
        _network(rng, [1, 1], ["identity"], "half_sum_sq", 1),  # width 1, depth 1, batch 1
        _network(rng, [1, 1, 1, 1, 1], ["relu", "tanh", "sigmoid", "sigmoid"], "sigmoid_bce", 1, "binary"),
        _network(rng, [3, 4, 2], ["sigmoid", "sigmoid"], "half_sum_sq", 3, bias=20.0),  # padded rows: σ(b) ≈ 1
        _network(rng, [6, 8, 3], ["relu", "relu"], "sum_sq", 4, bias=0.0),  # padded rows sit at z = b = 0
        _network(rng, [2, 3], ["sigmoid"], "sigmoid_bce", 4, "binary", scale=400.0),  # saturated: B may be inf
        _network(rng, [2, 4], ["softmax"], "softmax_ce", 4, "prob", scale=400.0),  # a probability underflows
        _network(rng, [7, 5, 6, 2, 4], ["tanh", "identity", "relu", "softmax"], "softmax_ce", 17, "onehot"),
    ]
    return [net.astype(dtype) for net in nets]


def drawn(dtype, count=100) -> list:
    nets, _ = draw_networks(DEFAULT_DISTRIBUTION, count, dtype)
    return nets


def stack_quantity(stack, g, q) -> str:
    return str(stack.in_stack(g, Quantity.parse(q)))


def worst_difference(stack, stacked) -> float:
    """Assert padded_tolerances == tolerance.tolerances network by network; the worst relative difference."""
    B = {name: pieces[1] for name, pieces in stacked.items()}
    worst = 0.0
    for g, net in enumerate(stack.networks):
        expected = tolerance.tolerances(net)
        assert set(expected) == set(quantity_names(net.depth))
        for q, (coefficient, B_q, amplification, floor) in expected.items():
            name = stack_quantity(stack, g, q)
            got_coefficient, _, got_amplification, got_floor = stacked[name]
            where = f"network {g} ({net.describe()}), {q} (stack {name})"
            assert got_coefficient.shape == (stack.count,) and got_amplification.shape == (stack.count,)
            assert got_coefficient[g] == coefficient, where
            assert got_floor == floor, where
            np.testing.assert_allclose(got_amplification[g], amplification, rtol=RELATIVE, atol=0, err_msg=where)
            got = stack.take(B, g, q)
            assert got.shape == np.shape(B_q) and got.dtype == np.float64, where
            np.testing.assert_allclose(got, B_q, rtol=RELATIVE, atol=0, err_msg=where)
            with np.errstate(all="ignore"):
                both = np.isfinite(got) & (B_q != 0)
                ratios = [abs(got_amplification[g] - amplification) / amplification]
                if both.any():
                    ratios.append(np.max(np.abs(got[both] - B_q[both]) / np.abs(B_q[both])))
            worst = max(worst, *ratios)
    return worst


def check_networks(nets) -> float:
    worst = 0.0
    for part in chunks(nets):
        stack = PaddedStack.of(part)
        stacked = padded_tolerances(stack)
        assert set(stacked) == {"C"} | {f"{kind}[{k}]" for k in range(1, stack.depth + 1)
                                        for kind in ("dC/dW", "dC/db", "dC/dz", "dC/da")}
        for name, (_, B, _, _) in stacked.items():
            assert B.shape == stack.real_mask(name).shape and B.dtype == np.float64
        worst = max(worst, worst_difference(stack, stacked))
        assert list(padded_kinks(stack)) == [bool(evaluate.kinks(net)) for net in part]
    return worst


@pytest.mark.parametrize("dtype", DTYPES)
def test_drawn_networks_get_their_own_tolerances(dtype):
    worst = check_networks(drawn(dtype))  # 100 networks: one full chunk and one of 36
    print(f"\n{dtype}: worst relative difference to tolerance.tolerances {worst:.3g}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_hand_built_networks_get_their_own_tolerances(dtype):
    nets = hand_built(dtype)
    losses = {net.loss for net in nets}
    assert {"softmax_ce", "sigmoid_bce"} <= losses
    assert any(net.output_activation == "softmax" and net.loss.endswith("sum_sq") for net in nets)
    assert {1, 4} <= {net.depth for net in nets} and 1 in {min(net.widths) for net in nets}
    assert 1 in {net.batch for net in nets} and any("relu" in net.hidden_activations for net in nets)
    worst = check_networks(nets + drawn(dtype, 30))  # mixed with drawn ones: codes differ slot by slot
    print(f"\n{dtype}: worst relative difference to tolerance.tolerances {worst:.3g}")


def test_saturated_outputs_get_the_same_huge_scales():
    """Outputs at exactly 0 or 1 in float64: 1/s in B is taken at float64's smallest normal (~1e307)."""
    nets = hand_built("float64")[9:11]
    for net in nets:
        output = tolerance._forward64(net)[1][-1]
        assert np.any(output == 0) and np.any(output == 1)
        assert max(np.max(B) for _, B, _, _ in tolerance.tolerances(net).values()) > 1e300
    check_networks(nets)


def test_padding_stays_zero_and_out_of_the_sums():
    """Padded cells of every B are 0 (a padded sigmoid row would otherwise carry σ(b) into db and C)."""
    stack = PaddedStack.of(hand_built("float64"))
    for name, (_, B, _, _) in padded_tolerances(stack).items():
        if name == "C":
            continue
        q = Quantity.parse(name)
        units = stack.unit_masks[q.layer]
        if q.kind in ("z", "a"):
            real = stack.row_mask[:, :, None] & units[:, None, :]
        elif q.kind == "W":
            real = units[:, :, None] & stack.unit_masks[q.layer - 1][:, None, :]
        else:
            real = units
        assert not np.any(B[~real]), name
    forward = tolerance.forward_pass(tolerance.Parameters.of_padded(stack))
    zs, acts, A = forward.zs, forward.acts, forward.A
    for k in range(stack.depth + 1):
        real = stack.row_mask[:, :, None] & stack.unit_masks[k][:, None, :]
        assert not np.any(acts[k][~real]) and not np.any(A[k][~real])
        if k:
            assert not np.any(zs[k][~real])


def _relu_on_kink(dtype, depth=1):
    """relu at z = 1·1 + (-1)·1 + 0 = 0 exactly (sample 1, unit 0), in front of `depth - 1` more layers."""
    X = np.array([[0.5, 2.0], [1.0, -1.0], [0.3, 0.1]])
    layers = [Layer(np.array([[1.0, 1.0], [0.5, -2.0]]), np.array([0.0, 0.25]), "relu")]
    for _ in range(depth - 1):
        layers.append(Layer(np.array([[0.7, -0.4], [0.2, 0.9]]), np.array([0.1, -0.3]), "tanh"))
    Y = np.array([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]])
    return Network(tuple(layers), "half_sum_sq", X, Y).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_padded_kinks_flags_exactly_the_networks_on_a_kink(dtype):
    others = drawn(dtype, 20)
    assert not any(evaluate.kinks(net) for net in others)  # the strategies keep off kinks
    nets = list(others)
    nets.insert(3, _relu_on_kink(dtype, depth=1))
    nets.insert(11, _relu_on_kink(dtype, depth=3))  # behind one identity layer in the stack
    nets.insert(17, hand_built(dtype)[8])  # relu with b = 0: padded rows at z = 0 are not kinks
    stack = PaddedStack.of(nets)
    found = padded_kinks(stack)
    assert found.shape == (len(nets),) and found.dtype == bool
    assert list(np.flatnonzero(found)) == [3, 11]
    assert list(found) == [bool(evaluate.kinks(net)) for net in nets]
