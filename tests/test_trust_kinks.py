"""ReLU kinks: a pre-activation exactly at 0 never makes a false alarm; a disagreement there is classified
as a kink and said so, while a mistake elsewhere in the same network is still a mismatch."""
import numpy as np
from hypothesis import strategies as st

from backprop_audit import Formula, Setting, Source, references
from backprop_audit.verdicts.vocabulary import Verdict
from backprop_audit.judging.evaluate import evaluate, kink_masks, kinks
from backprop_audit.model.network import Layer, Network
from backprop_audit.searching.search import search
from backprop_audit.trust.soak import CORRECT
from backprop_audit.searching.strategies import networks

SOURCE = Source("test", "tests/test_trust_kinks.py", "known")
RELU = Setting(depth=(2, 3), width=(1, 4), batch=(1, 4), hidden=("relu",), output=("identity",), loss=("half_sum_sq",))


def on_kink():
    """z[1][0, 0] = 1·1 + 1·(-1) + 0 = 0 exactly: relu' is undefined there."""
    layers = (Layer(np.array([[1.0, -1.0], [0.5, 0.25]]), np.array([0.0, 0.1]), "relu"),
              Layer(np.array([[0.7, -1.2]]), np.array([0.3]), "identity"))
    return Network(layers, "half_sum_sq", np.array([[1.0, 1.0], [0.4, -0.2]]), np.array([[0.2], [-0.5]]))


def formula(compute, quantity="dC/dz[l]"):
    return Formula(id="kink", title="kink", source=SOURCE, written="-", convention="row", quantity=quantity,
                   setting=RELU, compute=compute)


def delta_with_relu_prime_at_zero(value):
    def compute(n, l):
        delta = {n.L: n.a[n.L] - n.y}
        for k in range(n.L - 1, 0, -1):
            slope = np.where(n.z[k] > 0, 1.0, np.where(n.z[k] == 0, value, 0.0))
            delta[k] = (delta[k + 1] @ n.W[k + 1].T) * slope
        return delta[l]
    return compute


def test_the_network_sits_on_a_kink_and_the_oracles_pick_different_subgradients():
    net = on_kink()
    (layer, on), = kinks(net)
    assert layer == 1 and on[0, 0] and on.sum() == 1
    answers = references.quantities(net)
    assert answers["torch"]["dC/dz[1]"][0, 0] != answers["jax"]["dC/dz[1]"][0, 0]  # 0 against 1/2
    masks = kink_masks(net, kinks(net))
    assert masks["dC/dz[1]"][0, 0] and not masks["dC/dz[1]"][1].any()
    assert masks["dC/dW[1]"][0].all() and not masks["dC/dW[1]"][1].any()
    assert not masks["dC/dz[2]"].any() and not masks["dC/dW[2]"].any() and not masks["dC/da[1]"].any()


def test_every_correct_formula_holds_on_the_kink_and_the_outcome_says_kink():
    net = on_kink()
    for choice in (0.0, 0.5, 1.0):  # any subgradient a text may take
        outcome = evaluate(formula(delta_with_relu_prime_at_zero(choice)), net)
        assert outcome.status == Verdict.HOLDS, outcome.message
        assert outcome.kind == "kink" and "kink" in outcome.message and "z[1][0, 0]" in outcome.message
        assert "kink" in outcome.oracle_note
    for correct in CORRECT:
        assert not evaluate(correct, net).failed, correct.id


def test_a_mistake_away_from_the_kink_is_still_a_mismatch():
    net = on_kink()
    wrong_sign_at_sample_1 = lambda n, l: delta_with_relu_prime_at_zero(0.0)(n, l) * np.array([[1.0], [-1.0]])
    outcome = evaluate(formula(wrong_sign_at_sample_1), net)
    assert outcome.status == Verdict.FAILS and outcome.kind == "mismatch"
    doubled = evaluate(formula(lambda n, l: 2 * (n.a[l - 1].T @ delta_with_relu_prime_at_zero(0.0)(n, l)), "dC/dW[l]"), net)
    assert doubled.status == Verdict.FAILS


@st.composite
def networks_on_kinks(draw):
    """A drawn relu network whose first hidden unit's bias is set so that sample 0 sits on its kink."""
    net = draw(networks(RELU))
    first = net.layers[0]
    b = first.b.copy()
    b[0] = -(net.X[0] @ first.W[0])
    return Network((Layer(first.W, b, "relu"),) + net.layers[1:], net.loss, net.X, net.Y, net.targets)


def test_search_on_networks_forced_onto_kinks_raises_no_false_alarm():
    right = formula(delta_with_relu_prime_at_zero(0.0))

    result = search(right, examples=40, strategy=networks_on_kinks())
    assert result.held, result.minimal.message
    assert result.passed == 40
    kink_notes = [n for n in result.oracle_notes if "kink" in n]
    assert kink_notes, "no network reached the kink: the test would prove nothing"


# ---- loss kinks: mae at a = y, the multiclass hinge at a margin of 0 ----------------------------------------

def on_loss_kink(loss):
    """A tanh hidden layer, identity output; sample 0's output is exactly its target (mae) or has a margin of
    exactly 0 (hinge: s_1 - s_0 + 1 = 0 with class 0), sample 1 is off the kink."""
    hidden = Layer(np.array([[0.5, -0.25], [1.0, 0.5]]), np.array([0.0, 0.1]), "tanh")
    output = Layer(np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([1.0, 0.0]), "identity")  # s = (1, 0) for every sample
    X = np.array([[0.3, -0.4], [0.9, 0.2]])
    if loss == "mae":
        Y = np.array([[1.0, 0.0], [0.2, -0.7]])  # a[L][0] = (1, 0) = y[0]
        return Network((hidden, output), "mae", X, Y, "real")
    # s = (1, 0): with class 0 the margin of class 1 is 0 - 1 + 1 = 0; with class 1 it is 1 - 0 + 1 = 2
    return Network((hidden, output), "multiclass_hinge", X, np.array([[1.0, 0.0], [0.0, 1.0]]), "labels")


def test_a_loss_kink_is_found_its_entries_are_known_and_correct_formulas_hold_there():
    for loss, cells in (("mae", [[True, True], [False, False]]), ("multiclass_hinge", [[True, True], [False, False]])):
        net = on_loss_kink(loss)
        found = kinks(net)
        assert [layer for layer, _ in found] == ["loss"], (loss, found)
        assert found[0][1].tolist() == cells, loss
        masks = kink_masks(net, found)
        assert masks["dC/da[2]"][0].all() and not masks["dC/da[2]"][1].any()  # the sample on the kink, only
        assert masks["dC/dz[1]"][0].all() and not masks["dC/dz[1]"][1].any() and masks["dC/dW[1]"].all()
        assert not masks["C"].any()
        answers = references.quantities(net)  # torch and jax take different subgradients there (mae 0 and 1,
        # the hinge's clamp 1 and maximum 1/2): the kink is real
        assert not np.array_equal(answers["torch"]["dC/da[2]"][0], answers["jax"]["dC/da[2]"][0]), loss
        for correct in CORRECT:  # the loss's subgradient there is each framework's choice: never a false alarm
            outcome = evaluate(correct, net)
            assert not outcome.failed, (loss, correct.id, outcome.message)
        assert "loss kink" in evaluate(CORRECT[0], net).oracle_note
