"""The batched check (screen.check_many) gives the single check's verdict (evaluate) on every network:
same status and kind, the failing quantity, the ratio. Correct and wrong formulas, both conventions,
the loss C, formulas that raise or return a wrong shape, dtype or NaN, a ReLU kink, networks that do
not fit a stack, in float64 and float32.

The stacked oracles round differently from the per-network ones; both are correct computations, so
they differ by at most one tolerance, and so do the ratios |formula - oracle| / tol measured against
them: a ratio may differ by up to 1 (plus 1e-6 relative for the huge ratios of wrong formulas). Seen:
a float32 dW entry of 1e-31 where torch alone and torch stacked differ in the 4th digit (1.15 vs 1.151).
"""
import numpy as np
import pytest

from backprop_audit.trust.bench import draw_networks
from backprop_audit.trust.backprop import weight_gradient
from backprop_audit.trust.bench_formulas import DEFAULT_DISTRIBUTION, WEIGHT_GRADIENT, WRONG_WEIGHT_GRADIENT
from backprop_audit.judging.evaluate import evaluate
from backprop_audit.model.formula import Formula
from backprop_audit.manual import catalog
from backprop_audit.model.network import Layer, Network
from backprop_audit.batching import screen
from backprop_audit.batching.screen import check_many
from backprop_audit.judging.memory import RunMemory

DTYPES = ("float64", "float32")


def _variant(formula, id, compute, expected="erratum"):
    return Formula(id=id, title=id, source=formula.source, written=formula.written, convention=formula.convention,
                   quantity=formula.quantity, setting=formula.setting, compute=compute, expected=expected)


def _sometimes_broken(n, l):
    """Right on most networks; raises, returns NaN, a transposed shape or float64 on some."""
    g = weight_gradient(n, l)
    key = (n.N + sum(n.sizes)) % 7
    if key == 1:
        raise IndexError("broken on purpose")
    if key == 2:
        return np.full_like(g, np.nan)
    if key == 3 and g.shape[0] != g.shape[1]:
        return g.T
    if key == 4 and g.dtype == np.float32:
        return g.astype(np.float64)
    return g


SOMETIMES_BROKEN = _variant(WEIGHT_GRADIENT, "bench-sometimes-broken", _sometimes_broken)


# The single checks' formula-independent half (oracles, tolerances) of each network, kept across the tests: the
# formulas below are checked on the same drawn networks, and that half does not depend on the formula. The
# batched checks get no memory: each computes its stacks afresh.
SINGLE = RunMemory()


def assert_same_verdicts(formula, nets):
    batched = check_many(formula, nets)
    assert len(batched) == len(nets)
    for net, got in zip(nets, batched):
        want = evaluate(formula, net, memory=SINGLE)
        where = f"{formula.id} on {net.describe()}: batched {got.status}/{got.kind} {got.message!r}, single {want.status}/{want.kind} {want.message!r}"
        assert got.network is net, where
        assert (got.status, got.kind) == (want.status, want.kind), where
        if want.failed:
            assert got.quantity == want.quantity and got.message.split(" at index")[0] == want.message.split(" at index")[0], where
            if np.isfinite(want.ratio):
                assert abs(got.ratio - want.ratio) <= 1.0 + 1e-6 * want.ratio, where
            else:
                assert not np.isfinite(got.ratio), where
        else:
            assert got.ratio <= 1.0 and want.ratio <= 1.0, where
            # what the check would detect: the same number on a stack as alone (tolerance.detects)
            # (up to the float32 oracles' own rounding on a stack; inf where every dC/dW is 0)
            assert np.isclose(got.detects, want.detects, rtol=1e-3), where
    return batched


@pytest.fixture(scope="module", params=DTYPES)
def drawn(request):
    nets, _ = draw_networks(DEFAULT_DISTRIBUTION, 150, request.param)
    return nets


def test_a_remembered_stack_gives_the_outcomes_of_a_fresh_one(drawn, monkeypatch):
    """The oracle side of a stack is remembered across formulas by the run's memory: a formula checked on
    remembered stacks (after another formula) gets exactly the outcomes it gets on freshly computed ones,
    with no oracle call; the same networks rebuilt (equal content, new objects) find them too."""
    def summary(outcomes):
        return [(o.status, o.kind, o.quantity, o.ratio, o.message) for o in outcomes]

    memory = RunMemory()
    fresh = summary(check_many(WRONG_WEIGHT_GRADIENT, drawn, memory=memory))
    check_many(WEIGHT_GRADIENT, drawn, memory=memory)
    built = []
    monkeypatch.setattr(screen.PaddedStack, "of", lambda networks: built.append(1))
    assert summary(check_many(WRONG_WEIGHT_GRADIENT, drawn, memory=memory)) == fresh
    rebuilt = [net.astype(net.dtype) for net in drawn]
    assert summary(check_many(WRONG_WEIGHT_GRADIENT, rebuilt, memory=memory)) == fresh
    assert built == []


def test_a_correct_formula_holds_on_every_network_as_in_the_single_check(drawn):
    outcomes = assert_same_verdicts(WEIGHT_GRADIENT, drawn)
    assert not any(o.failed for o in outcomes)


def test_a_wrong_formula_fails_on_every_network_as_in_the_single_check(drawn):
    outcomes = assert_same_verdicts(WRONG_WEIGHT_GRADIENT, drawn)
    # twice the gradient equals it where the gradient is 0 (dead ReLU units, vanishing products): not all
    failed = [o for o in outcomes if o.failed]
    assert len(failed) >= 0.9 * len(outcomes) and all(o.kind == "mismatch" for o in failed)


def test_raising_nan_wrong_shape_and_wrong_dtype_are_the_single_checks_errors(drawn):
    outcomes = assert_same_verdicts(SOMETIMES_BROKEN, drawn)
    kinds = {o.kind for o in outcomes}
    assert {"ok", "raised", "nonfinite", "shape"} <= kinds
    if drawn[0].dtype == np.float32:
        assert "dtype" in kinds


@pytest.mark.parametrize("dtype", DTYPES)
def test_catalog_formulas_in_both_conventions_and_the_loss(dtype):
    formulas = catalog()
    chosen = [next(f for f in formulas if f.convention == "column" and f.expected == "holds"),
              next(f for f in formulas if f.convention == "row" and f.expected == "holds"),
              next(f for f in formulas if f.quantity == "C"),
              next(f for f in formulas if f.convention == "column" and f.expected == "erratum"),
              next(f for f in formulas if f.convention == "row" and f.expected == "erratum")]
    for formula in chosen:
        nets, _ = draw_networks(formula.setting, 40, dtype)
        assert_same_verdicts(formula, nets)


def _relu_on_kink(dtype):
    X = np.array([[0.5, 2.0], [1.0, -1.0], [0.3, 0.1]])
    layers = (Layer(np.array([[1.0, 1.0], [0.5, -2.0]]), np.array([0.0, 0.25]), "relu"),
              Layer(np.array([[0.7, -0.4]]), np.array([0.1]), "identity"))
    return Network(layers, "half_sum_sq", X, np.array([[0.1], [0.3], [0.5]])).astype(dtype)


def _too_wide(dtype):
    """Too wide (and too many rows) for a stack, so it gets the single check. Its widths [17, 65, 2] and batch 33
    fall in the jax oracle's buckets (64, 256, 16) and 256, those of test_power.py's network [32, 96, 10]/64
    (whose float32 check reads float64 oracles): one compile for both on a new machine, ~4 s of CPU, where its
    own shape (it was [3, 20, 2]/4) cost one more."""
    rng = np.random.default_rng(5)
    layers = (Layer(rng.uniform(-1, 1, (65, 17)), rng.uniform(-1, 1, 65), "tanh"),
              Layer(rng.uniform(-1, 1, (2, 65)), rng.uniform(-1, 1, 2), "identity"))
    return Network(layers, "mean_sum_sq", rng.uniform(-1, 1, (33, 17)), rng.uniform(-1, 1, (33, 2))).astype(dtype)


def test_a_kink_and_a_network_too_large_to_stack_get_the_single_check(drawn):
    """In the dtype of `drawn` (both); the network too large for a stack only in float64: in float32 it
    would cost one more XLA compile of its buckets for the same code path."""
    dtype = drawn[0].dtype
    nets = list(drawn[:20])
    nets.insert(5, _relu_on_kink(dtype))
    if dtype == np.float64:
        nets.append(_too_wide(dtype))
    for formula in (WEIGHT_GRADIENT, WRONG_WEIGHT_GRADIENT):
        assert_same_verdicts(formula, nets)
