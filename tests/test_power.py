"""The power of a check on a network with long sums (the measured count, judging/reference.py): in float32 a
classifier of widths [32, 96, 10] and batch 64 (Σ widths + N = 202 terms) catches a 0.5% mistake of dC/dW[1], and
×2, a sign flip, ×1/N and zeros, while the correct formula written two ways (BLAS and term by term) holds.
Under the worst-case count alone (tolerance.tolerances) dC/dW[1]'s check detects only 1.5%: the 0.5% mistake
would pass (the last test shows the numbers, so it fails if the measured count stops being used)."""
from __future__ import annotations

import numpy as np
import pytest

from backprop_audit import Formula, Setting, Source
from backprop_audit.judging import tolerance
from backprop_audit.judging.evaluate import evaluate
from backprop_audit.judging.memory import RunMemory
from backprop_audit.judging.reference import reference
from backprop_audit.judging.sequential import term_by_term
from backprop_audit.trust import backprop, power

# on one pytest-xdist worker (--dist loadgroup): its wide networks' buckets, which no other test uses,
# are loaded once a session, not once a worker (the session's budget: 30 oracle executables)
pytestmark = pytest.mark.xdist_group("power")

SOURCE = Source("test", "tests/test_power.py", "dC/dW[l] = a[l-1]ᵀ δ[l], and mistakes of it")
SETTING = Setting(hidden=("tanh",), output=("softmax",), loss=("softmax_ce",), targets=("onehot",))


def weight_gradient(id_, mistake, expected, sum_=np.matmul, layers=(1, 2)):
    def compute(v, l):
        right = sum_(v.a[l - 1].T, backprop.deltas(v)[l])
        return mistake(right, v.N) if l in layers else right
    return Formula(id=id_, title=id_, source=SOURCE, written="a[l-1]^T \\delta[l]", convention="row",
                   quantity="dC/dW[l]", setting=SETTING, compute=compute, expected=expected)


RIGHT = [weight_gradient("blas", lambda g, N: g, "holds"),
         weight_gradient("term-by-term", lambda g, N: g, "holds", term_by_term)]
WRONG = [weight_gradient("times-1.005-in-layer-1", lambda g, N: g * np.float32(1.005), "erratum", layers=(1,)),
         weight_gradient("times-2", lambda g, N: g * np.float32(2), "erratum"),
         weight_gradient("sign", lambda g, N: -g, "erratum"),
         weight_gradient("over-N", lambda g, N: g / np.float32(N), "erratum"),
         weight_gradient("zeros", lambda g, N: np.zeros_like(g), "erratum")]


@pytest.fixture(scope="module")
def network():
    net = power.classifier([32, 96, 10], 64, "float32")
    assert tolerance.is_measured(net)
    return net


@pytest.mark.parametrize("formula", RIGHT + WRONG, ids=lambda f: f.id)
def test_the_measured_check_holds_for_the_right_formula_and_catches_small_and_large_mistakes(network, formula):
    outcome = evaluate(formula, network, memory=MEMORY)
    assert outcome.failed == (formula.expected == "erratum"), outcome.message
    if not outcome.failed:  # (a failing Outcome records no power: it stopped at the failure)
        assert outcome.detects < 1e-3 and not outcome.vacuous


def test_the_worst_case_count_would_pass_the_half_percent_mistake(network):
    judged = reference(network, MEMORY)
    truth = next(iter(judged.answers.values()))
    worst_case = tolerance.tolerances(network)
    q = "dC/dW[1]"
    assert tolerance.detects(tolerance.tolerance_for(worst_case[q], truth[q]), truth[q]) > 5e-3
    assert tolerance.detects(tolerance.tolerance_for(judged.tolerances[q], truth[q]), truth[q]) < 1e-3


MEMORY = RunMemory()


def test_entries_float32_does_not_determine_are_excused_and_one_broken_float32_oracle_is_not():
    """tolerance.undetermined: where two of the float32 samples miss the float64 truth beyond the worst-case
    bound the entry is float32's limit (infinite tolerance); where one alone misses it that sample is broken."""
    piece = (4e-6, np.ones(3), 1.0, 0.0)  # worst-case bound 4e-6·(1 + |g|) = 8e-6 on every entry, 2e-6 its quarter
    truth = np.ones(3)
    good, off = truth + 1e-7, truth + np.array([0.0, 0.0, 1e-3])
    assert not tolerance.undetermined(piece, truth, [good, good, off]).any()
    assert list(tolerance.undetermined(piece, truth, [off, good, off])) == [False, False, True]
    # a non-finite sample misses: with a NaN sample and an inf entry of another, only that entry has two misses
    assert list(tolerance.undetermined(piece, truth, [good, np.array([1.0, np.inf, 1.0]), np.full(3, np.nan)])) == \
        [False, True, False]
