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
