"""What a formula on one network is judged against: the oracles' answers and the tolerances, for every check.

For most networks that is the oracles in the network's dtype and the worst-case tolerance model
(tolerance.tolerances). A network with long sums (tolerance.is_measured: Σ widths + N >= 128 terms) gets
the measured count instead (tolerance.measured_tolerances), because there the worst case is orders of
magnitude above any real rounding and a check would pass ×2 or zeros:
- float32: the formula is compared with the float64 oracles on the same inputs cast to float64 (exact:
  every float32 is a float64), which are the true gradient of the float32 network to ~1e-16; the
  float32 oracles' own deviation from them, and that of a correct backpropagation that sums term by
  term (judging/sequential.py, the worst ordinary order of summation), are the samples of this
  network's float32 rounding;
- float64: nothing finer exists; the oracles' answers are the reference, and jax's and the term-by-term
  backpropagation's deviations from torch are the samples.

Who judges the oracles (`instrument`): torch against jax with the worst-case model in the reference's
dtype, as for every network; and in float32, each float32 oracle against the float64 truth with the
worst-case float32 model (a float32 oracle beyond its own rounding bound is broken: an instrument fault
like a disagreement, not a reason to widen the tolerance, which measured_growth caps at the worst case),
except on the entries float32 does not determine, where at least two float32 samples miss the truth
(tolerance.undetermined): those get an infinite tolerance, for the formula and the oracles alike.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backprop_audit.judging import sequential, tolerance
from backprop_audit.model.quantity import Quantity


@dataclass(frozen=True)
class Reference:
    answers: dict  # {oracle name: {quantity: canonical array}}: what a formula's value is compared with
    tolerances: dict  # {quantity: tolerance pieces} for the formula's value (tolerance.tolerance_for)
    instrument: dict  # {quantity: tolerance pieces} torch and jax are judged against each other with
    float32_answers: dict | None = None  # a measured float32 network's float32 oracles, judged against `answers`
    float32_tolerances: dict | None = None  # the worst-case float32 model they are judged with
    measured: bool = False


def reference(net, memory, forward: tolerance.Forward | None = None) -> Reference:
    """The Reference of `net` (memory: the run's RunMemory, whose oracle answers it reads; forward:
    tolerance.forward_pass(net), if already computed)."""
    p = tolerance.Parameters.of(net)
    forward = forward or tolerance.forward_pass(p)  # once: the worst case, the measured count and the instrument's
    worst_case = tolerance.tolerances(p, forward=forward)
    if not tolerance.is_measured(p):
        answers = memory.oracle_answers(net)
        return Reference(answers, worst_case, worst_case)
    if net.dtype == np.float32:
        exact = net.astype(np.float64)
        answers, float32 = memory.oracle_answers(exact), memory.oracle_answers(net)
        samples = list(float32.values()) + [sequential.quantities(net)]
        measured = tolerance.measured_tolerances(net, _first(answers), samples, forward, worst_case)
        # the float32 oracles are judged on the entries float32 determines (infinite B elsewhere)
        float32_bounds = {q: _with_scales_of(piece, measured[q]) for q, piece in worst_case.items()}
        # (the model's forward pass is float64 already: the cast network's is the same one)
        instrument = tolerance.tolerances(exact, forward=forward)
        return Reference(answers, measured, instrument, float32, float32_bounds, True)
    answers = memory.oracle_answers(net)
    first, *others = answers.values()
    samples = others + [sequential.quantities(net)]
    return Reference(answers, tolerance.measured_tolerances(net, first, samples, forward, worst_case), worst_case,
                     measured=True)


def jacobian_reference(net, memory, forward: tolerance.Forward | None = None) -> Reference:
    """What a local Jacobian of `net` is judged against: the oracles' Jacobians in the network's dtype and the
    worst-case count (tolerance.jacobian_tolerances), on every network. Their chains are short (no backward sum,
    no batch sum), so the worst case stays far below a factor's error where a gradient's would not (float32
    [256, 4096, 10]/1024: the gradients needed the measured count; a Jacobian's count is Σ widths[:l], its layer's
    forward sums)."""
    pieces = tolerance.jacobian_tolerances(net, forward=forward)
    return Reference(memory.jacobian_answers(net), pieces, pieces)


def _with_scales_of(worst: tuple, measured: tuple) -> tuple:
    """The worst-case pieces `worst` with the B of `measured` (infinite where float32 does not determine an
    entry); for a step quantity, its gradient's."""
    if isinstance(worst, tolerance.StepScale):
        return worst._replace(gradient=_with_scales_of(worst.gradient, measured.gradient))
    return (worst[0], measured[1]) + tuple(worst[2:])


def answers_for(net, memory, quantity: str | None = None) -> dict:
    """Reference.answers alone (what a formula's value on `net` is compared with), without the tolerances;
    for a local Jacobian `quantity` the oracles' Jacobians (judged with the worst-case count in the network's
    dtype, see jacobian_reference)."""
    jacobian = quantity is not None and Quantity.parse(quantity).is_jacobian
    # A network judged in this run (evaluate.judged_network) keeps these answers with its judgement, in a table
    # that holds more networks than the answers' own: the diagnosis's failing networks are judged early and
    # asked for again after a few searches, by when the answers' table may have dropped them.
    judged = (memory.judged_jacobians if jacobian else memory.judged).get(net.fingerprint())
    if judged is not None:
        return judged[0]
    if jacobian:
        return memory.jacobian_answers(net)
    if tolerance.is_measured(net) and net.dtype == np.float32:
        return memory.oracle_answers(net.astype(np.float64))
    return memory.oracle_answers(net)


def _first(answers: dict) -> dict:
    return next(iter(answers.values()))
