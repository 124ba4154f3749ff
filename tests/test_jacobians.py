"""The local Jacobians (model/quantity.py): da[l]/dz[l], dz[l]/da[l-1], da[l+1]/da[l], dz[l]/dW[l], da[l]/dW[l],
per sample (out, in), stacked over the batch; with respect to W, W's layout per sample. Parsed with a clear error
for anything else; the two oracles (jax.jacobian, torch.func.jacrev) agree to 1e-12 in float64 on every row of the
table and in saturated networks; a right Jacobian holds and a transposed one, one of the wrong layer and one
missing its diag fail, in both dtypes; the padded screening routes them to evaluate(), after torch's Jacobians of
many networks are taken in stacks (equal to one at a time to rounding, in every regime). Cheap: evaluate() on a
few drawn networks (the searches and diagnoses of the Jacobian mutants are tests/test_mutants.py's)."""
import dataclasses

import numpy as np
import pytest

from backprop_audit import Formula, Setting, Source
from backprop_audit.batching import screen
from backprop_audit.judging import tolerance
from backprop_audit.judging.evaluate import evaluate
from backprop_audit.model.convention import expected_value
from backprop_audit.model.network import Layer, Network
from backprop_audit.model.quantity import Quantity, QuantityError, jacobian_names
from backprop_audit.references import finite_differences, jax_grad, torch_autograd
from backprop_audit.trust import backprop
from backprop_audit.trust.soak import EVERY_ROW, JACOBIAN_REGIMES, REGIMES, draw_network
from backprop_audit.verdicts.vocabulary import Finding, Verdict

# on one pytest-xdist worker (--dist loadgroup): the Jacobian oracle's executables (one per dtype)
# are loaded once a session, not once a worker (the session's budget: 30 oracle executables)
pytestmark = pytest.mark.xdist_group("jacobians")

SOURCE = Source("test", "tests/test_jacobians.py", "a local Jacobian")
DTYPES = (np.float64, np.float32)
AGREEMENT = 1e-12


def claim(quantity, compute, setting=EVERY_ROW):
    return Formula(id="known", title="known", source=SOURCE, written="-", convention="row", quantity=quantity,
                   setting=setting, compute=compute)


def networks(regime, dtype, count, seed=0, setting=EVERY_ROW):
    rng = np.random.default_rng(seed)
    return [draw_network(rng, REGIMES[regime], dtype, setting) for _ in range(count)]


@pytest.mark.parametrize("text, kind, layer, on_three", [
    ("da[l]/dz[l]", "da/dz", "l", ["da[1]/dz[1]", "da[2]/dz[2]", "da[3]/dz[3]"]),
    ("dz[l]/da[l-1]", "dz/da", "l", ["dz[1]/da[0]", "dz[2]/da[1]", "dz[3]/da[2]"]),
    ("da[l+1]/da[l]", "da/da", "l", ["da[2]/da[1]", "da[3]/da[2]"]),
    ("dz[L]/dW[L]", "dz/dW", "L", ["dz[3]/dW[3]"]),
    ("da[L]/da[L-1]", "da/da", "L-1", ["da[3]/da[2]"]),
    ("da[2]/dW[2]", "da/dW", 2, ["da[2]/dW[2]"]),
])
def test_a_jacobian_text_is_parsed_once_and_given_back(text, kind, layer, on_three):
    q = Quantity.parse(text)
    assert (q.kind, q.layer, str(q)) == (kind, layer, text) and q.is_jacobian
    assert [str(c) for c in q.on(3)] == on_three
    assert q.min_depth() == (2 if kind == "da/da" and layer == "l" else q.min_depth())


@pytest.mark.parametrize("text, says", [
    ("da[L+1]/da[L]", "not a layer of da[l+1]/da[l]"),
    ("dz[l]/da[l]", "not a layer of dz[l]/da[l-1]"),
    ("dx[l]/dz[l]", "unknown Jacobian dx/dz"),
    ("da[l]/dz[k]", "unknown layer 'k'"),
])
def test_an_unknown_jacobian_is_refused_naming_the_known_forms(text, says):
    with pytest.raises(QuantityError) as raised:
        Quantity.parse(text)
    assert str(raised.value).startswith(f"{text!r}: ") and says in str(raised.value)
    assert "da[l]/dz[l], dz[l]/da[l-1], da[l+1]/da[l], dz[l]/dW[l], da[l]/dW[l]" in str(raised.value)


@pytest.mark.parametrize("regime", ["ordinary", "saturated", "logits"])
def test_torch_and_jax_agree_on_every_jacobian_in_float64(regime):
    """Relative to max(|value|, B), the scale the tolerance model says the entry's rounding lives on (1 - tanh²(z)
    of a saturated unit is rounding noise in both frameworks, far below 1e-12 of its B), and never finer than the
    smallest normal number: XLA flushes subnormals to 0 (a saturated softmax's s_i s_j of -3.2e-317 is -0.0 in jax,
    as tolerance_for's τ says)."""
    seen = set()
    for net in networks(regime, np.float64, 12, seed=1):
        torch_values, jax_values = torch_autograd.jacobians(net), jax_grad.jacobians(net)
        scales = tolerance.jacobian_scales(net)
        assert sorted(torch_values) == sorted(jax_values) == sorted(jacobian_names(net.depth))
        for q, value in torch_values.items():
            assert value.shape == jax_values[q].shape and value.dtype == jax_values[q].dtype == np.float64
            scale = np.maximum(np.abs(value), scales[q])
            tiny = np.finfo(np.float64).tiny
            assert np.all(np.abs(value - jax_values[q]) <= AGREEMENT * scale + tiny), (q, net.describe())
        seen |= {layer.activation for layer in net.layers}
    assert seen >= {"softmax", "sigmoid", "tanh"}  # the coupled Jacobian and the saturating ones were compared


def test_torch_jacobians_in_chunks_of_units_equal_one_chunk_a_layer(monkeypatch):
    """torch_autograd.jacobians bounds its memory by taking a layer's output units a chunk at a time (each chunk's
    rows from its own backward pass): one unit a chunk, and chunks of 40 // (N·out·in) units (several units on the
    small layers, one on the others), give the rows one chunk a layer gives, to rounding (the copies' batched
    products may round differently), in float64 on networks up to 8 units wide."""
    nets = networks("ordinary", np.float64, 8, seed=5) + networks("saturated", np.float64, 4, seed=6)
    whole = [torch_autograd.jacobians(net) for net in nets]
    assert max(max(net.widths[1:]) for net in nets) >= 4  # layers that a chunk of 1 or 2 units cuts
    for entries in (1, 40):
        monkeypatch.setattr(torch_autograd, "JACOBIAN_CHUNK_ENTRIES", entries)
        for net, expected in zip(nets, whole):
            chunked, scales = torch_autograd.jacobians(net), tolerance.jacobian_scales(net)
            for q, value in expected.items():
                scale = np.maximum(np.abs(value), scales[q])
                assert chunked[q].shape == value.shape
                assert np.all(np.abs(chunked[q] - value) <= AGREEMENT * scale), (entries, q, net.describe())


STACKABLE = EVERY_ROW.restricted(width=(1, 16), batch=(1, 32))  # what fits a stack (padded.fits)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_torch_jacobians_of_a_stack_equal_one_network_at_a_time(dtype):
    """batching/jacobians.py pads networks of one depth into stacks, each with its own activations (a softmax among
    them), and takes torch's Jacobians of a stack in one backward pass a layer: each network's equal the single
    network's to rounding (the padded products may sum in another order: 4 ulps of max(|value|, B), the scale of
    the entry's rounding), in every regime, saturated, overflowing and subnormal ones included."""
    from backprop_audit.batching.jacobians import _stacks, jacobians_of

    nets = [net for i, regime in enumerate(JACOBIAN_REGIMES)
            for net in networks(regime, dtype, 10, seed=20 + i, setting=STACKABLE)]
    stacks = _stacks(nets)
    assert sum(map(len, stacks)) == len(nets) and max(map(len, stacks)) > 10  # many networks to a stack
    assert all(len({(str(net.dtype), net.depth) for net in stack}) == 1 for stack in stacks)
    ulps = 4 * np.finfo(dtype).eps
    seen = set()
    for stack in stacks:
        for net, answers in zip(stack, jacobians_of(stack)):
            single, scales = torch_autograd.jacobians(net), tolerance.jacobian_scales(net)
            assert sorted(answers["torch"]) == sorted(single)
            for q, value in single.items():
                stacked = answers["torch"][q]
                assert stacked.shape == value.shape and stacked.dtype == value.dtype
                both = np.isfinite(value) & np.isfinite(stacked)
                assert np.array_equal(np.isfinite(value), np.isfinite(stacked)), (q, net.describe())
                scale = np.maximum(np.abs(value), scales[q]) + np.finfo(dtype).tiny
                assert np.all(np.abs(stacked - value)[both] <= ulps * scale[both]), (q, net.describe())
            assert "jax" not in answers  # jax's: one network at a time, when it is judged
            seen |= {layer.activation for layer in net.layers}
    assert seen >= {"softmax", "sigmoid", "tanh", "relu"}


def test_a_stacked_answer_that_is_not_finite_is_the_single_oracles(monkeypatch):
    """The stack computes every activation present for every network (an unselected one's inf becomes 0 · inf in
    its backward pass): where a network's stacked answer is not finite, the single oracle is asked instead, when
    the network is judged."""
    from backprop_audit.batching.jacobians import remember_jacobians
    from backprop_audit.judging.memory import RunMemory

    nets = networks("ordinary", np.float64, 4, seed=8, setting=STACKABLE.restricted(depth=(2, 2)))
    real = torch_autograd.stacked_jacobians

    def one_nan(stack):
        answers = real(stack)
        first = next(iter(answers[1]))
        answers[1] = dict(answers[1], **{first: np.full_like(answers[1][first], np.nan)})
        return answers

    monkeypatch.setattr(torch_autograd, "stacked_jacobians", one_nan)
    fresh = RunMemory()
    remember_jacobians(nets, fresh)
    assert fresh.stacked_jacobians.get(nets[1].fingerprint()) == {}
    assert set(fresh.stacked_jacobians.get(nets[0].fingerprint())) == {"torch"}
    for q, value in torch_autograd.jacobians(nets[1]).items():
        assert np.array_equal(fresh.jacobian_answers(nets[1])["torch"][q], value), q


def test_a_stack_of_wide_networks_keeps_its_copies_within_the_bound():
    """A stack's copies of W (stack size · N · out · out · in at its widest layer) stay within
    JACOBIAN_CHUNK_ENTRIES, and a stack holds at most CHUNK networks."""
    from backprop_audit.batching.jacobians import _stacks
    from backprop_audit.batching.padded import CHUNK

    wide = dataclasses.replace(REGIMES["ordinary"], name="wide", width=(12, 16), batch=(24, 32))
    rng = np.random.default_rng(9)
    nets = [draw_network(rng, wide, np.float64, STACKABLE) for _ in range(120)]
    nets += networks("ordinary", np.float64, 400, seed=9, setting=STACKABLE)
    stacks = _stacks(nets)
    assert sum(map(len, stacks)) == len(nets)
    sizes = []
    for stack in stacks:
        widths = [max(net.widths[k] for net in stack) for k in range(stack[0].depth + 1)]
        rows = max(net.batch for net in stack)
        entries = rows * max(widths[l] ** 2 * widths[l - 1] for l in range(1, len(widths)))
        assert len(stack) <= CHUNK and len(stack) * entries <= torch_autograd.JACOBIAN_CHUNK_ENTRIES
        sizes.append((len(stack), entries))
    assert any(entries > 16 ** 3 * 24 // 2 for _, entries in sizes) and any(n == CHUNK for n, _ in sizes), sizes
    assert any(n < CHUNK and n * entries > torch_autograd.JACOBIAN_CHUNK_ENTRIES // 2 for n, entries in sizes), sizes


def test_finite_differences_give_the_jacobians_too():
    net = networks("ordinary", np.float64, 1, seed=4, setting=Setting(depth=(2, 2), output=("softmax",),
                                                                     loss=("softmax_ce",), targets=("onehot",)))[0]
    torch_values = torch_autograd.jacobians(net)
    for q in jacobian_names(net.depth):
        assert np.allclose(finite_differences.quantity(net, q), torch_values[q], rtol=1e-6, atol=1e-8), q


RIGHT = {
    "da[l]/dz[l]": backprop.activation_jacobian,
    "da[l+1]/da[l]": backprop.layer_jacobian,
    "dz[l]/dW[l]": backprop.weight_jacobian,
}
WRONG = {  # a known mistake of each
    "transposed": ("da[l+1]/da[l]", lambda n, l: np.swapaxes(backprop.layer_jacobian(n, l), 1, 2)),
    "wrong layer": ("da[l]/dz[l]", lambda n, l: backprop.activation_jacobian(n, l - 1) if l > 1 else
                    backprop.activation_jacobian(n, l + 1)),
    "missing diag": ("da[l]/dz[l]", lambda n, l: np.diagonal(backprop.activation_jacobian(n, l), axis1=1, axis2=2)),
    "W's layout transposed": ("dz[l]/dW[l]", lambda n, l: np.swapaxes(backprop.weight_jacobian(n, l), 1, 2)),
}
SQUARE = EVERY_ROW.restricted(depth=(2, 3), width=(2, 4), square=True, hidden=("sigmoid", "tanh"),
                              output=("tanh", "sigmoid"))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("regime", ["ordinary", "saturated"])
def test_a_right_jacobian_holds_and_its_mistakes_fail(dtype, regime, memory):
    """Square layers, so that a mistake that keeps the shape (a transpose, a neighbour layer) is a number that
    differs, not only a shape; both dtypes, ordinary and saturated networks (where a layer of saturated units has
    a Jacobian of zeros, which no check can tell from a wrong one: vacuous, never counted as evidence)."""
    nets = networks(regime, dtype, 6, seed=2, setting=SQUARE)
    for quantity, compute in RIGHT.items():
        for net in nets:
            outcome = evaluate(claim(quantity, compute), net, memory=memory)
            assert outcome.status == Verdict.HOLDS, (quantity, outcome.message)
            assert regime == "saturated" or not outcome.vacuous, (quantity, outcome.detects)
    for name, (quantity, compute) in WRONG.items():
        failed = [evaluate(claim(quantity, compute), net, memory=memory).failed for net in nets]
        assert all(failed) if name != "transposed" else sum(failed) >= len(nets) - 1, name


def test_the_row_convention_holds_a_weight_jacobian_in_w_layout():
    net = networks("ordinary", np.float64, 1, seed=5, setting=Setting(depth=(1, 1), width=(2, 4)))[0]
    canonical = jax_grad.jacobians(net)["dz[1]/dW[1]"]
    assert canonical.shape == (net.batch, net.widths[1], net.widths[0])
    assert expected_value("dz[1]/dW[1]", canonical, "row").shape == (net.batch, net.widths[0], net.widths[1])
    assert expected_value("da[1]/dz[1]", canonical, "row") is canonical  # no W in it: the same in both conventions


def test_the_screening_judges_jacobians_one_network_at_a_time(monkeypatch, memory):
    """check_many never pads a Jacobian claim into a stack (its oracles return gradients only) and gives
    evaluate()'s outcomes."""
    def no_stacks(*args, **kwargs):
        raise AssertionError("a Jacobian claim reached the padded stacks")
    monkeypatch.setattr(screen, "_check_stack", no_stacks)
    formula = claim("da[l]/dz[l]", backprop.activation_jacobian)
    nets = networks("ordinary", np.float64, 5, seed=6)
    screened = screen.check_many(formula, nets, memory=memory)
    assert [o.status for o in screened] == [Verdict.HOLDS] * 5
    assert [o.ratio for o in screened] == [evaluate(formula, net, memory=memory).ratio for net in nets]


def test_the_screening_takes_torchs_jacobians_of_many_networks_in_stacks(monkeypatch):
    """check_many computes the oracles' Jacobians of the networks it is given first, torch's in stacks (no network
    one at a time), and its outcomes are evaluate()'s on those answers: a right claim holds, a wrong one fails."""
    from backprop_audit.judging.memory import RunMemory

    def no_single(net):
        raise AssertionError("torch's Jacobians of one network asked for")
    nets = networks("ordinary", np.float64, 12, seed=6)
    fresh = RunMemory()
    monkeypatch.setattr(torch_autograd, "jacobians", no_single)
    right = screen.check_many(claim("da[l]/dz[l]", backprop.activation_jacobian), nets, memory=fresh)
    wrong = screen.check_many(claim(*WRONG["missing diag"]), nets, memory=fresh)
    assert [o.status for o in right] == [Verdict.HOLDS] * 12 and all(o.failed for o in wrong)
    assert len(fresh.stacked_jacobians) == len(fresh.jacobians) == 12


def test_a_relu_kink_in_a_jacobian_is_classified_not_a_mismatch(memory):
    """z = 0 exactly at a relu unit: torch takes relu'(0) = 0, jax 1/2; a formula taking 0 holds as a kink."""
    W = np.array([[1.0, -1.0], [0.5, 0.25]])
    net = Network((Layer(W, np.zeros(2), "relu"), Layer(np.eye(2), np.zeros(2), "identity")), "half_sum_sq",
                  np.array([[1.0, 1.0]]), np.array([[0.0, 1.0]]))  # z[1][0, 0] = 1 - 1 = 0
    outcome = evaluate(claim("da[l]/dz[l]", backprop.activation_jacobian), net, memory=memory)
    assert outcome.status == Verdict.HOLDS and outcome.kind == Finding.KINK, outcome.message


def test_the_sweep_refuses_a_jacobian_with_a_message():
    from backprop_audit.batching.sweep import Architecture, sweep
    with pytest.raises(ValueError, match="local Jacobian, judged one network at a time"):
        sweep(claim("da[l]/dz[l]", backprop.activation_jacobian), Architecture((2, 2), 2, ("tanh",), "half_sum_sq"))
