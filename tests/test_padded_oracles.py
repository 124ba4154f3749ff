"""Each batched oracle over a padded stack (torch_autograd.padded_quantities, jax_grad.padded_quantities)
equals the same oracle network by network (its `quantities`), entry by entry, within the project's
tolerance model; padding receives exactly zero gradient; nothing non-finite leaks out of an
unselected activation or loss candidate.

Networks: Hypothesis draws from the default distribution, 256 per dtype in four full stacks (a draw of
64 holds no softmax_ce network; one of 256 holds six), plus hand-built ones for the edges (full-size
networks with no padding at all, width-1 softmax, saturated cross-entropies, every loss in one stack,
a stack of a single network whose other 63 slots are repeats, and a stack in jax's small bucket).
"""

import functools

import numpy as np
import pytest

from backprop_audit.judging import compare
from backprop_audit.judging import tolerance
from backprop_audit.trust.bench import draw_networks
from backprop_audit.trust.bench_formulas import DEFAULT_DISTRIBUTION
from backprop_audit.model.network import Layer, Network
from backprop_audit.model.quantity import Quantity, quantity_names
from backprop_audit.batching.padded import BATCH, CHUNK, DEPTH, WIDTH, PaddedStack, chunks
from backprop_audit.references import jax_grad, torch_autograd

DTYPES = ("float64", "float32")
DRAWN = 4 * CHUNK


def _network(widths, batch, activations, loss, dtype, seed, scale=1.0, targets="real"):
    """A network with uniform(-1, 1)/sqrt(fan-in) weights times `scale`; targets real, onehot or binary."""
    rng = np.random.default_rng(seed)
    layers = tuple(Layer((scale * rng.uniform(-1, 1, (widths[l], widths[l - 1])) / np.sqrt(widths[l - 1])).astype(dtype),
                         (scale * rng.uniform(-0.5, 0.5, widths[l])).astype(dtype), activations[l - 1])
                   for l in range(1, len(widths)))
    X = rng.uniform(-1, 1, (batch, widths[0])).astype(dtype)
    if targets == "onehot":
        Y = np.eye(widths[-1], dtype=dtype)[rng.integers(0, widths[-1], batch)]
    elif targets == "binary":
        Y = rng.integers(0, 2, (batch, widths[-1])).astype(dtype)
    else:
        Y = rng.uniform(-1, 1, (batch, widths[-1])).astype(dtype)
    return Network(layers, loss, X, Y, targets)


def edge_networks(dtype) -> list:
    """Hand-built networks for what the default distribution draws rarely or never."""
    big = 30.0 if dtype == "float32" else 200.0  # saturates sigmoid / softmax in that dtype
    full = (WIDTH,) * (DEPTH + 1)
    return [
        # the full stack shape: no padded unit, row or identity layer at all
        _network(full, BATCH, ["tanh", "relu", "sigmoid", "softmax"], "softmax_ce", dtype, 1, targets="onehot"),
        _network(full, BATCH, ["relu", "relu", "relu", "identity"], "mean_sum_sq", dtype, 2),
        # smallest: depth 1, width 1, batch 1 (three identity layers in front)
        _network((1, 1), 1, ["relu"], "sum_sq", dtype, 3),
        _network((1, 1, 1, 1, 1), 1, ["relu", "tanh", "sigmoid", "sigmoid"], "sigmoid_bce", dtype, 4, targets="binary"),
        # softmax over one real unit: s = 1 exactly, dC/dz[L] = 0 (the padded units must not share its mass)
        _network((3, 1), 5, ["softmax"], "softmax_ce", dtype, 5, targets="onehot"),
        _network((2, 4, 1), 7, ["tanh", "softmax"], "half_sum_sq", dtype, 6),
        # saturated cross-entropies: probabilities that round to 0 or 1, the a-probe's clamp at tiny
        _network((4, 6, 5), 9, ["tanh", "softmax"], "softmax_ce", dtype, 7, scale=big, targets="onehot"),
        _network((4, 6, 5), 9, ["identity", "sigmoid"], "sigmoid_bce", dtype, 8, scale=big, targets="binary"),
        # softmax and squared losses with large pre-activations in the unselected candidates
        _network((5, 8, 3), 11, ["identity", "softmax"], "mean_half_sum_sq", dtype, 9, scale=big),
        _network((16, 2, 16), 32, ["sigmoid", "identity"], "half_sum_sq", dtype, 10),
        _network((7, 16), 1, ["sigmoid"], "sigmoid_bce", dtype, 11, targets="binary"),
        _network((1, 16, 1, 16, 3), 2, ["tanh", "relu", "identity", "softmax"], "mean_sum_sq", dtype, 12),
    ]


ORACLES = {"torch": torch_autograd, "jax": jax_grad}


@functools.cache
def _drawn(dtype: str) -> tuple:
    """The DRAWN networks of the default distribution in `dtype`, drawn once for both oracles."""
    return tuple(draw_networks(DEFAULT_DISTRIBUTION, DRAWN, dtype)[0])


@pytest.fixture(scope="module", params=[(dtype, oracle) for dtype in DTYPES for oracle in ORACLES],
                ids=lambda param: "-".join(param))
def stacks(request):
    """(stack, padded_quantities(stack), oracle module) for the drawn networks in CHUNK-sized stacks and
    the edge networks."""
    dtype, oracle = request.param
    drawn = _drawn(dtype)
    # a stack of one, too; and one of the networks that fit jax's small stack bucket (jax_grad.SMALL_STACK_BUCKETS),
    # every other stack holding a network too wide for it
    units, rows = jax_grad.SMALL_STACK_BUCKETS[0]
    edges = edge_networks(dtype)
    small = [net for net in drawn + tuple(edges) if max(net.widths) <= units and net.batch <= rows][:CHUNK]
    groups = list(chunks(drawn)) + [edges, edges[:1], small]
    module = ORACLES[oracle]
    return [(stack, module.padded_quantities(stack), module) for stack in map(PaddedStack.of, groups)]


def test_the_sample_covers_the_edges(stacks):
    nets = [net for stack, _, _ in stacks for net in stack.networks]
    activations = {layer.activation for net in nets for layer in net.layers}
    assert {"softmax_ce", "sigmoid_bce"} <= {net.loss for net in nets}
    assert {"relu", "softmax", "sigmoid", "tanh", "identity"} <= activations
    assert {1, DEPTH} <= {net.depth for net in nets}
    assert any(min(net.widths) == 1 for net in nets) and any(max(net.widths) == WIDTH for net in nets)
    assert {1, BATCH} <= {net.batch for net in nets}
    # jax's stacks in each of its buckets (the small one, then padded.WIDTH and BATCH)
    assert {jax_grad._stack_bucket(stack) for stack, _, _ in stacks} == {jax_grad.SMALL_STACK_BUCKETS[0], (WIDTH, BATCH)}


def test_shapes_dtypes_and_finiteness(stacks):
    for stack, stacked, _ in stacks:
        assert set(stacked) == set(quantity_names(stack.depth))
        for name, value in stacked.items():
            assert value.shape == stack.real_mask(name).shape, name
            assert value.dtype == stack.dtype, name
            # every slot, layer and entry: no nan/inf from an unselected candidate, none from padding
            assert np.all(np.isfinite(value)), (name, np.argwhere(~np.isfinite(value))[:3])


def test_padded_equals_per_network_oracle(stacks):
    worst, where = 0.0, None
    for stack, stacked, oracle in stacks:
        for g, net in enumerate(stack.networks):
            reference, tolerances = oracle.quantities(net), tolerance.tolerances(net)
            for q in quantity_names(net.depth):
                value = stack.take(stacked, g, q)
                assert value.shape == reference[q].shape and value.dtype == reference[q].dtype, (q, net.describe())
                tol = tolerance.tolerance_for(tolerances[q], reference[q])
                ratio, index = compare.worst_ratio(value, reference[q], tol)
                assert ratio <= 1, (net.describe(), q, index, value[index], reference[q][index], ratio)
                if ratio >= worst:
                    worst, where = ratio, (net.describe(), q, index)
    print(f"\n{stacks[0][0].dtype}: worst ratio |padded - per-network| / tol = {worst:.3g} at {where}")


def test_padding_gets_exactly_zero(stacks):
    """Real layers of real networks: every entry outside real_mask is exactly 0 (padded units, inputs and
    rows are cut off by the where in front of each a, and padded weights are 0).

    This is *not* true of every entry outside real_mask: an identity layer in front of a shallow network
    (k <= prepend) is not padding but an exact part of the computation, and its dC/dW[k] (the gradient
    with respect to the entries of I), dC/dz[k] and dC/da[k] (= dC/dX) are in general nonzero. What is
    true for every slot (real or repeat) and every layer, identity layers included, is that entries
    outside the layer's own unit and row masks are 0; that is the second assertion."""
    for stack, stacked, _ in stacks:
        for name, value in stacked.items():
            if name == "C":
                continue
            real_layer = stack.real_mask(name) | ~_real_layers(stack, name)
            assert np.all(value[~real_layer] == 0), (name, np.argwhere(value * ~real_layer != 0)[:3])
            structural = _structural_mask(stack, name)
            assert np.all(value[~structural] == 0), (name, np.argwhere(value * ~structural != 0)[:3])


def _real_layers(stack, name) -> np.ndarray:
    """True over every entry of the quantity's layer for networks that are real and have it as a real layer."""
    rows = Quantity.parse(name).layer > stack.prepend
    shape = stack.real_mask(name).shape
    return np.broadcast_to(rows.reshape((stack.count,) + (1,) * (len(shape) - 1)), shape)


def _structural_mask(stack, name) -> np.ndarray:
    """The layer's unit and row masks only (every slot, identity layers included)."""
    q = Quantity.parse(name)
    units = stack.unit_masks[q.layer]
    if q.kind == "W":
        return units[:, :, None] & stack.unit_masks[q.layer - 1][:, None, :]
    if q.kind == "b":
        return units
    return stack.row_mask[:, :, None] & units[:, None, :]
