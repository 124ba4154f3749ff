"""The third oracle: when torch and jax disagree, central finite differences in float64 decide which to
keep, and every such disagreement is reported (Outcome.oracle_note, SearchResult.oracle_notes, the
report's "oracle_notes"), never silently resolved. One oracle is made wrong on purpose here."""
import types

import numpy as np
import pytest
from hypothesis import given, settings

from backprop_audit import Formula, Setting, Source, references
from backprop_audit.verdicts.audit import audit
from backprop_audit.verdicts.entry import report_entry
from backprop_audit.verdicts.vocabulary import Verdict
from backprop_audit.judging.evaluate import evaluate
from backprop_audit.model.network import Layer, Network
from backprop_audit.model.quantity import Quantity
from backprop_audit.references import finite_differences
from backprop_audit.searching.search import search
from backprop_audit.trust.soak import CORRECT
from backprop_audit.searching.strategies import networks

SOURCE = Source("test", "tests/test_trust_third_oracle.py", "known")
BY_ID = {f.id: f for f in CORRECT}
TANH = Setting(depth=(2, 2), width=(1, 3), batch=(1, 3), hidden=("tanh",), output=("sigmoid",), loss=("mean_half_sum_sq",))


def network():
    layers = (Layer(np.array([[0.3, -1.2], [0.8, 0.5], [-0.4, 0.9]]), np.array([0.1, -0.2, 0.3]), "tanh"),
              Layer(np.array([[1.1, -0.6, 0.2], [0.4, 0.7, -1.3]]), np.array([0.05, -0.1]), "sigmoid"))
    return Network(layers, "mean_half_sum_sq", np.array([[0.5, -1.0], [1.5, 0.2]]), np.array([[0.3, -0.2], [0.9, 0.1]]))


@pytest.fixture
def jax_wrong_on(monkeypatch):
    """Replace the jax oracle by one that returns 1.001 x the true value of the named quantities."""
    real = references._load("jax")

    def corrupt(*names):
        def quantities(net):
            values = real.quantities(net)
            return {q: (v * np.asarray(1.001, v.dtype) if q in names else v) for q, v in values.items()}

        def padded_quantities(stack):  # the same corruption for the batched check (screen.py)
            values = {q: v.copy() for q, v in real.padded_quantities(stack).items()}
            for g in range(stack.count):
                for name in names:
                    stacked = str(stack.in_stack(g, Quantity.parse(name)))
                    values[stacked][g] *= np.asarray(1.001, values[stacked].dtype)
            return values
        monkeypatch.setitem(references._loaded, "jax", types.SimpleNamespace(quantities=quantities,
                                                                             padded_quantities=padded_quantities))
    return corrupt


@settings(max_examples=15, deadline=None, database=None)
@given(networks(Setting(depth=(1, 3), width=(1, 3), batch=(1, 3))))
def test_finite_differences_agree_with_torch(net):
    """The tie-breaker is itself an oracle: every quantity it can probe equals torch's to 1e-6."""
    truth = references._load("torch").quantities(net)
    for name, value in truth.items():
        fd = finite_differences.quantity(net, name)
        if fd is None:
            assert name == str(Quantity.of("a", net.depth))
            continue
        scale = np.max(np.abs(value)) + 1e-3
        assert np.max(np.abs(fd - value)) <= 1e-6 * scale, name


@pytest.mark.parametrize("quantity, correct", [("dC/dW[1]", "correct-dW-row"), ("dC/db[2]", "correct-db-row"),
                                               ("dC/dz[1]", "correct-delta-row"), ("dC/da[1]", "correct-da-row")])
def test_finite_differences_side_with_the_right_oracle_and_it_is_reported(jax_wrong_on, quantity, correct):
    jax_wrong_on(quantity)
    outcome = evaluate(BY_ID[correct], network())
    assert outcome.status == Verdict.HOLDS, outcome.message  # judged against torch only, which FD confirmed
    assert outcome.oracle_ratio > 1
    assert f"disagree on {quantity}" in outcome.oracle_note
    assert f"finite differences (float64) side with torch on {quantity}" in outcome.oracle_note


def test_a_formula_equal_to_the_wrong_oracle_fails(jax_wrong_on):
    jax_wrong_on("dC/dW[1]")
    follows_jax = Formula(id="follows-jax", title="-", source=SOURCE, written="-", convention="row",
                          quantity="dC/dW[1]", setting=TANH,
                          compute=lambda n: 1.001 * BY_ID["correct-dW-row"].compute(n, 1))
    outcome = evaluate(follows_jax, network())
    assert outcome.status == Verdict.FAILS and "torch" in outcome.message


def test_an_output_a_probe_is_reported_undecided(jax_wrong_on):
    jax_wrong_on("dC/da[2]")
    outcome = evaluate(BY_ID["correct-da-row"], network())
    assert "undecided" in outcome.oracle_note and "dC/da[2]" in outcome.oracle_note


def test_the_notes_reach_the_search_result_and_the_report(jax_wrong_on):
    jax_wrong_on("dC/dW[1]")
    formula = Formula(id="right", title="-", source=SOURCE, written="-", convention="row", quantity="dC/dW[l]",
                      setting=TANH, compute=BY_ID["correct-dW-row"].compute)
    result = search(formula, examples=5)
    assert result.held and result.oracle_notes and result.worst_oracle_ratio > 1
    report = report_entry(audit(formula, examples=5, dtypes=("float64",)))
    assert report["verdict"] == "holds" and not report["oracles_agree"]
    assert any("side with torch" in note for note in report["oracle_notes"])
