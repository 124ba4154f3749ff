"""The public API for users' own tests (backprop_audit.api): assert_holds / check, the whole-backprop
form, the networks strategy, and how seed and examples follow Hypothesis's own options."""
import re
import numpy as np
import pytest
from hypothesis import core, given, settings

import backprop_audit
from backprop_audit import (Formula, Setting, Source, assert_backprop, assert_holds, check, check_backprop,
                            networks)
from backprop_audit.api.statistics import merged
from backprop_audit.examples.user_network import Network as NielsenNetwork, sigmoid_prime

LINEAR = Setting(depth=(1, 1), hidden=("identity",), output=("identity",), loss=("mean_half_sum_sq",))
SIGMOID = Setting(hidden=("sigmoid",), output=("sigmoid",), loss=("half_sum_sq",), batch=(1, 1))
EXAMPLES = 12


def weight_gradient(id, compute):
    return Formula(id=id, title="dC/dW", source=Source("notes", "eq. 3", "dC/dW = (a - y) x^T / N"),
                   written=r"(a - y) x^T / N", convention="column", quantity="dC/dW[1]", setting=LINEAR,
                   compute=compute)


RIGHT = weight_gradient("mean", lambda v: (v.a[1] - v.y) @ v.x.T / v.N)
WITHOUT_MEAN = weight_gradient("sum", lambda v: (v.a[1] - v.y) @ v.x.T)


@pytest.fixture
def hypothesis_options(monkeypatch):
    """Load a Hypothesis settings profile or force a seed for one test; both put back afterwards."""
    previous = settings.get_current_profile_name()
    monkeypatch.setattr(core, "global_force_seed", None)

    def use(profile_options: dict, force_seed=None):
        settings.register_profile("test-public-api", **profile_options)
        settings.load_profile("test-public-api")
        core.global_force_seed = force_seed

    yield use
    settings.load_profile(previous)


def test_the_package_exports_the_api():
    for name in ("assert_holds", "check", "Result", "assert_backprop", "check_backprop", "BackpropResult", "networks"):
        assert hasattr(backprop_audit, name), name


def test_check_of_a_right_formula_holds_with_the_data():
    result = check(RIGHT, examples=EXAMPLES, seed=1)
    assert result.holds and result.verdict == "holds" and result.diagnosis is None and result.counterexample is None
    assert result.entry["dtypes"]["float64"]["examples"] == EXAMPLES == result.entry["dtypes"]["float32"]["examples"]
    assert result.message.startswith("formula 'mean' holds: 12 networks in float64, 12 networks in float32 (seed 1)")


def test_assert_holds_says_what_is_wrong_and_how_to_reproduce_it():
    with pytest.raises(AssertionError) as raised:
        assert_holds(WITHOUT_MEAN, examples=EXAMPLES, seed=5, err_msg="my notes, eq. 3")
    message = str(raised.value)
    lines = message.splitlines()
    assert lines[0] == "my notes, eq. 3"
    assert lines[1].startswith("formula 'sum' does not hold: fails in float64 (dC/dW[1], column convention; ")
    assert lines[2] == "diagnosis (factor, fix 'x 1/N'): holds when multiplied by 1/N (N = batch size)"
    assert lines[3].startswith("worst entry: sum: dC/dW[1] (layer 1) at index (0, 0): manual ")
    assert ", torch " in lines[3] and ", jax " in lines[3]
    for shown in ("  W[1] = ", "  b[1] = ", "  X = ", "  Y = ", "  manual = ", "  torch  = ", "  jax    = "):
        assert any(line.startswith(shown) for line in lines), shown
    assert lines[-1] == "reproduce: assert_holds(<formula 'sum'>, seed=5, examples=12, dtypes=('float64',))"


def test_the_reproduce_call_repeats_the_failure():
    first = check(WITHOUT_MEAN, examples=EXAMPLES, seed=9)
    again = check(WITHOUT_MEAN, examples=EXAMPLES, dtypes=("float64",), seed=9)
    assert not again.holds and again.message == first.message


def test_the_message_prints_a_large_array_summarised():
    wide = Formula(id="wide", title="t", source=RIGHT.source, written="", convention="row", quantity="dC/dW[1]",
                   setting=LINEAR.restricted(width=(12, 12), batch=(3, 3)), compute=lambda v: v.X.T @ (v.a[1] - v.Y))
    message = check(wide, examples=4, dtypes=("float64",), seed=0).message
    assert "..." in message and len(message.splitlines()) < 60


def test_a_formula_that_raises_is_an_error_with_the_reason():
    def broken(view):
        raise ValueError("no such layer")

    result = check(weight_gradient("raises", broken), examples=EXAMPLES, dtypes=("float64",), seed=0)
    assert result.verdict == "error"
    assert "raised ValueError: no such layer" in result.message


def test_seed_and_examples_follow_hypothesis_when_not_given(hypothesis_options):
    hypothesis_options({"max_examples": 7, "derandomize": False}, force_seed=4321)  # pytest --hypothesis-seed=4321
    result = check(RIGHT)
    assert result.seed == 4321 and result.examples == 7
    assert result.entry["dtypes"]["float64"]["examples"] == 7
    hypothesis_options({"max_examples": 7, "derandomize": True}, force_seed=4321)  # derandomized: fixed, as Hypothesis
    assert check(RIGHT).seed == 0
    hypothesis_options({"max_examples": 7, "derandomize": False})
    seeds = {check(RIGHT, dtypes=("float64",)).seed for _ in range(3)}
    assert len(seeds) == 3  # random, as Hypothesis without a seed


@pytest.mark.parametrize("options, error", [
    ({"examples": 0}, ValueError), ({"examples": 2.5}, ValueError), ({"dtypes": ("float16",)}, ValueError),
    ({"dtypes": ()}, ValueError)])
def test_bad_options_are_refused_before_anything_runs(options, error):
    with pytest.raises(error):
        check(RIGHT, **options)


def test_a_non_formula_is_refused():
    with pytest.raises(TypeError, match="expected a backprop_audit.Formula"):
        assert_holds(lambda v: v.x)


def nielsen(W, b, X, Y):
    """The user's network code (examples/user_network.py) in the W, b, X, Y form: lists from layer 1."""
    nabla_b, nabla_w = NielsenNetwork(W, b).backprop(X, Y)
    return {l: (nabla_w[l - 1], nabla_b[l - 1]) for l in range(1, len(W) + 1)}


def deltas(v, forget_the_derivative_below_the_output=False):
    delta = {v.L: (v.a[v.L] - v.y) * sigmoid_prime(v.z[v.L])}
    for l in range(v.L - 1, 0, -1):
        delta[l] = v.W[l + 1].T @ delta[l + 1]
        if not forget_the_derivative_below_the_output:
            delta[l] = delta[l] * sigmoid_prime(v.z[l])
    return delta


def test_a_right_backprop_holds_in_either_form():
    assert check_backprop(nielsen, convention="column", setting=SIGMOID, examples=EXAMPLES, seed=0).holds
    by_view = lambda v: {l: (d @ v.a[l - 1].T, d) for l, d in deltas(v).items()}  # noqa: E731
    assert assert_backprop(by_view, convention="column", setting=SIGMOID, examples=EXAMPLES, seed=0).holds


def test_a_wrong_recursion_names_the_first_wrong_layer_from_the_output():
    def forgets(v):
        return {l: (d @ v.a[l - 1].T, d) for l, d in deltas(v, forget_the_derivative_below_the_output=True).items()}

    result = check_backprop(forgets, convention="column", setting=SIGMOID.restricted(depth=(3, 3)),
                            examples=EXAMPLES, seed=0)
    assert not result.holds and result.first_wrong == ("dC/dW", 2)
    assert result.wrong_layers == {"dC/dW": [2, 1], "dC/db": [2, 1]}
    assert result.message.startswith("backprop 'forgets': dC/dW is wrong first at layer 2 of 3, counted from the "
                                     "output down (wrong at layers 2, 1; right at 3)")


def test_a_mistake_at_the_output_is_diagnosed_there_though_every_layer_below_inherits_it():
    """σ'(z) dropped from δ[L]: every layer's dW is wrong (δ carries it down) and no one change fits them
    all; at layer L, on its own, the diagnosis names it."""
    def drops_the_output_derivative(v):
        delta = {v.L: v.a[v.L] - v.y}
        for l in range(v.L - 1, 0, -1):
            delta[l] = (v.W[l + 1].T @ delta[l + 1]) * sigmoid_prime(v.z[l])
        return {l: (d @ v.a[l - 1].T, d) for l, d in delta.items()}

    result = check_backprop(drops_the_output_derivative, convention="column", setting=SIGMOID.restricted(depth=(2, 3)),
                            examples=EXAMPLES, dtypes=("float64",), seed=0)
    assert result.wrong_layers["dC/dW"][0] == result.weights.counterexample.network.depth  # wrong from the output
    label, there = result.first_wrong_diagnosis["dC/dW"]
    assert label == "L" and there.kind == "missing-derivative", there.text
    assert "there, dC/dW[L] on its own: matches the gradient built from dC/da instead of δ = dC/dz" in result.message


def test_a_wrong_output_layer_only_is_named_with_the_layers_below_right():
    def doubles_the_last_weight_gradient(v):
        return {l: (d @ v.a[l - 1].T * (2 if l == v.L else 1), d) for l, d in deltas(v).items()}

    with pytest.raises(AssertionError) as raised:
        assert_backprop(doubles_the_last_weight_gradient, convention="column",
                        setting=SIGMOID.restricted(depth=(2, 2)), examples=EXAMPLES, seed=0)
    message = str(raised.value)
    assert "dC/dW is wrong first at layer 2 of 2, counted from the output down (wrong at layers 2; right at 1)" in message
    assert "holds when multiplied by 1/2" in message
    assert "backprop 'doubles_the_last_weight_gradient.db' holds" in message
    # the reproduce line runs as printed (the backprop's name for its placeholder) and meets the same network
    line = re.search(r"reproduce: (assert_backprop\(<backprop 'doubles_the_last_weight_gradient'>, convention='column', "
                     r"setting=Setting\(depth=\(2, 2\), .*?\), seed=0, examples=12.*)", message).group(1)
    with pytest.raises(AssertionError) as again:
        eval(line.replace("<backprop 'doubles_the_last_weight_gradient'>", "doubles_the_last_weight_gradient"),
             {"assert_backprop": assert_backprop, "Setting": Setting,
              "doubles_the_last_weight_gradient": doubles_the_last_weight_gradient})
    assert _minimal_network(str(again.value)) == _minimal_network(message)


def _minimal_network(message: str) -> str:
    return message[message.index("minimal network"):message.index("reproduce:")]


def test_a_backprop_missing_a_layer_says_so():
    result = check_backprop(lambda v: {}, convention="row", setting=SIGMOID, examples=EXAMPLES, seed=0, name="empty")
    assert result.weights.verdict == "error" and "backprop returned no gradients for layer 1" in result.message


def test_a_backprop_of_another_signature_is_refused():
    with pytest.raises(TypeError, match="one argument.*or W, b, X, Y"):
        check_backprop(lambda W, b: {}, convention="row")


@given(networks(Setting(depth=(2, 2), batch=(3, 3), hidden=("tanh",)), dtype=np.float32))
@settings(max_examples=5, database=None)
def test_the_networks_strategy_draws_within_its_setting(net):
    assert net.depth == 2 and net.batch == 3 and net.layers[0].activation == "tanh" and net.dtype == np.float32


def test_the_networks_strategy_takes_its_options_by_keyword_only():
    with pytest.raises(TypeError):
        networks(Setting(), np.float32).example()


def test_statistics_of_several_runs_merge_phase_by_phase():
    case = {"status": "valid", "runtime": 0.001, "drawtime": 0.0, "events": []}
    runs = [{"generate-phase": {"test-cases": [case] * 3, "duration-seconds": 0.5, "distinct-failures": 0,
                                "shrinks-successful": 0}, "stopped-because": "settings.max_examples=3"},
            {"generate-phase": {"test-cases": [case], "duration-seconds": 0.25, "distinct-failures": 1,
                                "shrinks-successful": 0},
             "shrink-phase": {"test-cases": [case] * 2, "duration-seconds": 1.0, "distinct-failures": 1,
                              "shrinks-successful": 2}, "stopped-because": "settings.max_examples=3"}]
    stats = merged(runs)
    assert len(stats["generate-phase"]["test-cases"]) == 4 and stats["generate-phase"]["duration-seconds"] == 0.75
    assert stats["generate-phase"]["distinct-failures"] == 1 and stats["shrink-phase"]["shrinks-successful"] == 2
    assert stats["stopped-because"] == "settings.max_examples=3 (2 runs)"


def test_a_backprop_that_raises_on_the_minimal_network_names_no_layer_and_no_precondition():
    """W for Wᵀ in the δ recursion raises where the layers are not square, before any gradient is returned: it was
    "wrong first at layer 2" (whose gradient was right) and, there on its own, "holds only when square layers"."""
    def untransposed(v):
        delta = {v.L: (v.a[v.L] - v.y) * sigmoid_prime(v.z[v.L])}
        for l in range(v.L - 1, 0, -1):
            delta[l] = v.W[l + 1] @ delta[l + 1] * sigmoid_prime(v.z[l])  # W[l + 1].T in the recursion
        return {l: (d @ v.a[l - 1].T, d) for l, d in delta.items()}

    result = check_backprop(untransposed, convention="column", setting=SIGMOID.restricted(depth=(2, 2)),
                            examples=EXAMPLES, dtypes=("float64",), seed=0)
    assert not result.holds and result.raised["dC/dW"].startswith("ValueError: matmul")
    assert ("backprop 'untransposed' raised on the minimal network below before returning any gradient, so no "
            "layer's dC/dW is named: ValueError") in result.message
    assert "wrong first at layer" not in result.message and "holds only when" not in result.message
    assert not result.first_wrong_diagnosis
