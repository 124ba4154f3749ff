"""Diagnosis: which simple change makes a failing formula hold on the failing networks.

Tried in order, each on every failing network the search kept (the minimal one first); a transform
counts only if it fixes all of them:
1. a transpose (also what swapped operands of an outer product give: aᵀδ for δaᵀ);
2. a constant factor: -1, 2, 1/2, N, 1/N, K, 1/K (N the batch size, K the output width) and their
   signed products; for a claim about C, a constant offset (± 1, ± N: a term counted that the sum
   should skip); otherwise the least-squares ratio, if it is the same on every network;
3. σ'(a) written where σ'(z) is meant (for δ = dC/dz: the value equals dC/da ⊙ g'(a));
   a layer index that is off (the value equals the same quantity at a neighbouring layer);
4. a reduction over the batch (a per-sample formula given a batch: sum or mean over samples);
   on a network with an L2 term, its gradient λW dropped, doubled, halved or negated in dW or a step W'
   (L2_MISTAKES); the gradient built from dC/da with ⊙ g'(z) left out (λW kept);
   then: the value is another quantity of the same layer (∂C/∂z written where ∂C/∂a is claimed, ...);
then, when no transform of the value fits: the smallest edit of the formula as written, traced
(verdicts/repair.py: a transpose or swapped operands inside it, ⊙ ↔ @, σ' dropped, ...);
5. a violated precondition: the search is run again restricted to N = 1, to target rows summing to 1,
   to one-hot target rows (where soft labels may be drawn), to square layers, to one activation or one
   loss at a time; a restriction names it only when every failing network seen (the minimal
   counterexample among them) violates it and the restricted search holds on PRECONDITION_EXAMPLES
   networks.
If nothing fits: "no simple fix found".

Before all of these (verdicts/numerical.py): a failure of arithmetic is "numerically unstable as
written" (NaN/inf where the exact value is finite, or float32 failing where float64 holds on the same
network; with a stable rewrite where one holds), and a failure within ~100 tolerances everywhere is
"a rounding-level difference". Neither is ever explained by a precondition.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from backprop_audit.judging.memory import RunMemory
from backprop_audit.judging.reference import answers_for
from backprop_audit.judging.evaluate import judged_network
from backprop_audit.model.operations import derivative
from backprop_audit.judging import tolerance
from backprop_audit.judging.compare import worst_ratio
from backprop_audit.model.convention import canonical_value, expected_value, view_of
from backprop_audit.model.quantity import Quantity
from backprop_audit.verdicts.numerical import (DERIVATIVE_FORMS, agreeing_digits, numerical_failures, rounding_level,
                                               stable_rewrite, undefined_as_written, where_it_breaks)
from backprop_audit.verdicts.vocabulary import DIAGNOSIS_KINDS, UNEVALUABLE, DiagnosisKind, Finding, Verdict

# A precondition is named only when its restricted search holds on this many networks (issue 15: a
# 60-network search that happened to hold named "N = 1" for a NaN at N = 3 only).
PRECONDITION_EXAMPLES = 500
PROBE_EXAMPLES = 20  # the restricted search's probe (_precondition_diagnosis): it must hold, with power, first


@dataclass
class Diagnosis:
    kind: DiagnosisKind
    text: str  # one sentence for the report
    fix: str = ""  # the transform, e.g. "x 1/N"
    repair: object | None = None  # the Repair (verdicts/repair.py) when the fix is an edit of the formula
    seconds: float | None = None  # the whole diagnosis's time (report.json "diagnosis_seconds")
    repair_seconds: float | None = None  # the repair search's, found or not ("repair_seconds")

    def __post_init__(self):
        # One vocabulary: an erratum's record pins its expected diagnosis by these kinds.
        if self.kind not in DIAGNOSIS_KINDS:
            raise ValueError(f"diagnosis kind {self.kind!r} is not in vocabulary.DIAGNOSIS_KINDS")


def _pairs(outcomes):
    """(manual value, first oracle's value, tol, net, quantity) of the failing quantity of each outcome."""
    for outcome in outcomes:
        q = outcome.quantity
        if q not in outcome.manual or not outcome.oracle:
            continue
        m = np.asarray(outcome.manual[q], dtype=np.float64)
        oracle = next(iter(outcome.oracle.values()))[q]
        yield m, np.asarray(oracle, dtype=np.float64), outcome.network, q


def _fits(candidate, oracle, net, q, convention, memory: RunMemory, model: bool = False, model_tol=None) -> bool:
    """candidate equals oracle (the quantity q in `convention`) within q's tolerance.

    model=True: `oracle` is a mistake model (say dC/da·aᵀ for a gradient missing ⊙ g'(z)), which can be
    far larger than q's true value; two roundings of it differ on its own scale, so the relative part
    (the tolerance's coefficient)·(1 + Z)·|model| is added to q's tolerance, and `model_tol` (in `convention`)
    where the mistake says how its own inputs round."""
    if candidate.shape != oracle.shape or not np.all(np.isfinite(candidate)):
        return False
    tol = tolerance_of(net, q, convention, memory)
    if model:
        scale = _judged_scale(net, q, memory)
        relative = tolerance.value_tolerance(scale, canonical_value(q, oracle, convention))
        tol = tol + expected_value(q, relative, convention) + (0.0 if model_tol is None else model_tol)
    return worst_ratio(candidate, oracle, tol)[0] <= 1.0


def fits_within(candidate, oracle, tol) -> bool:
    """_fits (model=False) with q's tolerance already computed (tolerance_of): a repair search weighs
    thousands of candidates against the same network's quantity."""
    if candidate.shape != oracle.shape or not np.all(np.isfinite(candidate)):
        return False
    return worst_ratio(candidate, oracle, tol)[0] <= 1.0


def _judged_scale(net, q, memory: RunMemory):
    """q's tolerance pieces on `net` as evaluate() judged it: a gradient's (or a Jacobian's) four pieces, or a
    step W'[l]'s StepScale."""
    return judged_network(net, memory, Quantity.parse(q).is_jacobian)[1][0][q]


def tolerance_of(net, q, convention, memory: RunMemory):
    """q's tolerance on `net` in `convention`, from the oracle's value as evaluate() judged it."""
    answers, judged = judged_network(net, memory, Quantity.parse(q).is_jacobian)  # what evaluate() judged it with
    scale = judged[0][q]  # a gradient's (or a Jacobian's) four pieces, or a step W'[l]'s StepScale
    canonical_tol = tolerance.tolerance_for(scale, next(iter(answers.values()))[q])
    return expected_value(q, canonical_tol, convention)


def _named_factors(net):
    N, K = net.batch, net.widths[-1]
    names = {"-1": -1.0, "2": 2.0, "1/2": 0.5, "-2": -2.0, "-1/2": -0.5,
             "N": N, "1/N": 1 / N, "-N": -N, "-1/N": -1 / N, "2/N": 2 / N, "1/(2N)": 1 / (2 * N),
             "N/2": N / 2, "2N": 2 * N, "K": K, "1/K": 1 / K,
             "K/N": K / N, "N/K": N / K,  # a mean over the wrong axis (1/K for 1/N)
             "1/(NK)": 1 / (N * K)}  # a mean over all N·K cells left out (mse, mae, huber as torch defines them)
    if net.dropout is not None:  # inverted dropout's scale of the kept units forgotten (only where a network has one)
        names["1/(1 - p)"] = 1 / (1 - net.dropout)
    return names


def _gamma_scaled(m, net, q, convention: str, power: float):
    """m ⊙ γ[l]^power along the units, for dC/dz[l], dC/dW[l], dC/db[l] of a batch-normalized layer l (each carries
    γ[l] once, through dC/dẑ = γ ⊙ dC/du): γ dropped or counted twice, the slips CS231n's dx invites (an outside
    tester's dx without γ was "no simple fix found"). None for any other quantity or layer."""
    claimed = Quantity.parse(q)
    if not net.batchnorm or claimed.kind not in ("z", "W", "b") or not 1 <= claimed.layer < net.depth:
        return None
    gamma = net.layers[claimed.layer - 1].gamma.astype(np.float64) ** power
    scaled = m * (gamma[:, None] if convention == "column" else gamma)
    return scaled if scaled.shape == m.shape else None


def _all_fit(outcomes, convention, transform, memory: RunMemory) -> bool:
    pairs = list(_pairs(outcomes))
    if not pairs:
        return False
    for m, o, net, q in pairs:
        candidate = transform(m, net, q)
        if candidate is None or not _fits(candidate, o, net, q, convention, memory):
            return False
    return True


def _derivative_of_a(net, q, convention, memory: RunMemory):
    """dC/da[l] ⊙ g'(a[l]) in the formula's convention: what δ is if g' is applied to a, not z."""
    delta = Quantity.parse(q)
    if delta.kind != "z" or net.layers[delta.layer - 1].activation == "softmax":
        return None
    layer, dC_da_name = delta.layer, str(delta.with_kind("a"))
    answers = answers_for(net, memory)
    dC_da = expected_value(dC_da_name, next(iter(answers.values()))[dC_da_name], convention)
    a = view_of(net, convention).a[layer]
    with np.errstate(all="ignore"):
        return dC_da * derivative(net.layers[layer - 1].activation, a)


def _gradient_without_derivative(net, q, convention, memory: RunMemory):
    """dW[l] or db[l] built from dC/da[l] instead of δ = dC/dz[l]: what a weight or bias gradient is when
    the factor ⊙ g'(z[l]) is left out; for a step W'[l] (b'[l]), the step W - η·g taken with that gradient."""
    claim = Quantity.parse(q)
    gradient = claim.gradient()
    if gradient.kind not in ("W", "b"):  # (not C either: it has no layer)
        return None
    answers = next(iter(answers_for(net, memory).values()))
    dC_da = answers[str(Quantity.of("a", gradient.layer))]  # canonical (N, n_l)
    a_below = view_of(net, "row").a[gradient.layer - 1].astype(np.float64)  # canonical (N, n_{l-1})
    canonical = dC_da.T @ a_below if gradient.kind == "W" else dC_da.sum(axis=0)
    if gradient.kind == "W" and net.l2:  # the L2 term's λW is no part of this mistake (dC/da carries none of it)
        canonical = canonical + net.l2 * net.layers[gradient.layer - 1].W.astype(np.float64)
    if claim.is_step:
        layer = net.layers[gradient.layer - 1]
        parameter = (layer.W if gradient.kind == "W" else layer.b).astype(np.float64)
        canonical = parameter - net.eta * canonical
    return expected_value(q, canonical, convention)


def _gradient_without_derivative_tolerance(net, q, convention, memory: RunMemory):
    """How far a formula making that mistake may be from the model for rounding: the model is built from dC/da[l],
    which the formula computes within dC/da[l]'s own tolerance; q's tolerance does not cover it where q is 0 and
    dC/da[l] is not (a ReLU unit that is off: seen in float32, the formula 2e-4 relative from the model there)."""
    claim = Quantity.parse(q)
    gradient = claim.gradient()
    name = str(Quantity.of("a", gradient.layer))
    tol_a = np.abs(tolerance_of(net, name, "row", memory))  # canonical (N, n_l)
    a_below = np.abs(view_of(net, "row").a[gradient.layer - 1].astype(np.float64))
    canonical = tol_a.T @ a_below if gradient.kind == "W" else tol_a.sum(axis=0)
    if claim.is_step:
        canonical = abs(net.eta) * canonical
    return expected_value(q, canonical, convention)


_gradient_without_derivative.tolerance = _gradient_without_derivative_tolerance


# The L2 term's gradient as texts get it wrong: dropped (the data term alone), doubled (d/dW of λ‖W‖² where C has
# (λ/2)‖W‖²), halved, or with its sign flipped; each the right gradient with λW scaled by the factor.
L2_MISTAKES = {0.0: ("holds when λ·W is added: the L2 term's gradient is missing (the data term alone)", "add λ·W"),
               2.0: ("holds with λ·W for 2λ·W: the L2 term's gradient was taken of λ‖W‖², where C has (λ/2)‖W‖²",
                     "λ·W for 2λ·W"),
               0.5: ("holds with λ·W for λ·W/2: the ½ of (λ/2)‖W‖² was kept in its gradient", "λ·W for λ·W/2"),
               -1.0: ("holds with +λ·W for -λ·W: the L2 term's gradient has its sign flipped", "+λ·W for -λ·W")}


def _l2_scaled(scale: float):
    """The mistake model `scale`·λW in place of λW for dW[l] (or the step W'[l] taken with that gradient), on a
    network with an L2 term; None for other claims and networks."""
    def model(net, q, convention, memory: RunMemory):
        claim = Quantity.parse(q)
        gradient = claim.gradient()
        if gradient.kind != "W" or not net.l2:
            return None
        answers = next(iter(answers_for(net, memory).values()))
        W = net.layers[gradient.layer - 1].W.astype(np.float64)
        canonical = answers[str(gradient)] + (scale - 1.0) * net.l2 * W
        if claim.is_step:
            canonical = W - net.eta * canonical
        return expected_value(q, canonical, convention)
    return model


def _l2_diagnosis(outcomes, conv, memory: RunMemory) -> Diagnosis | None:
    for scale, (text, fix) in L2_MISTAKES.items():
        if _made_mistake(outcomes, conv, _l2_scaled(scale), memory):
            return Diagnosis(DiagnosisKind.REGULARIZER, text, fix)
    return None


def _jacobian_diagnosis(formula, outcomes, memory: RunMemory) -> Diagnosis | None:
    """For a local Jacobian (N, out, in): each sample's block transposed, or a compressed form of it, the vector
    of its diagonal (an elementwise map's g'(z), written where diag(g'(z)) is the Jacobian) or one row standing
    for every output unit's (∂z_i/∂W_ik = a_k, the same for every unit i)."""
    conv = formula.convention
    if _all_fit(outcomes, conv, lambda m, net, q: np.swapaxes(m, -1, -2) if m.ndim == 3 else None, memory):
        return Diagnosis(DiagnosisKind.TRANSPOSE, "holds after transposing each sample's Jacobian: its rows are the "
                         "inputs, not the outputs ((in, out), the denominator layout)", "transpose")

    def on_diagonal(m, net, q):
        return m[..., :, None] * np.eye(m.shape[-1], dtype=m.dtype) if m.ndim == 2 else None
    if _all_fit(outcomes, conv, on_diagonal, memory):
        return Diagnosis(DiagnosisKind.JACOBIAN_LAYOUT, "holds as the diagonal of the Jacobian, diag(v) per sample: the "
                         "vector of an elementwise map's derivatives is written where its (diagonal) Jacobian is meant",
                         "diag(v) per sample")

    def repeated(m, net, q):
        if m.ndim != 2:
            return None
        units = net.widths[Quantity.parse(q).layer]
        return np.repeat(m[:, :, None], units, axis=2) if conv == "row" else np.repeat(m[:, None, :], units, axis=1)
    if _all_fit(outcomes, conv, repeated, memory):
        return Diagnosis(DiagnosisKind.JACOBIAN_LAYOUT, "holds repeated for every output unit: ∂z_i/∂W_ik = a_k is the same "
                         "for every unit i, and the text writes it once", "repeat over the output units")
    if _made_mistake(outcomes, conv, _linear_jacobian, memory):
        return Diagnosis(DiagnosisKind.MISSING_DERIVATIVE, "matches the Jacobian of z, not of a = g(z): the factor "
                         "diag(g'(z)) is missing", "diag(g'(z)) in front")
    return None


def _linear_jacobian(net, q, convention, memory: RunMemory):
    """For a Jacobian of a[l] (da[l+1]/da[l], da[l]/dW[l]): the oracles' Jacobian of z at the same layers (dz[l+1]/da[l],
    dz[l]/dW[l]), what the formula gives when it leaves out g'; None for the others."""
    claimed = Quantity.parse(q)
    if claimed.kind not in ("da/da", "da/dW"):
        return None
    linear = Quantity.of("dz/da", claimed.layer + 1) if claimed.kind == "da/da" else Quantity.of("dz/dW", claimed.layer)
    return expected_value(str(linear), next(iter(answers_for(net, memory, str(linear)).values()))[str(linear)], convention)


def _transform_diagnosis(formula, outcomes, memory: RunMemory) -> Diagnosis | None:
    conv = formula.convention
    if formula.target.is_jacobian:
        found = _jacobian_diagnosis(formula, outcomes, memory)
        if found is not None:
            return found
    if _all_fit(outcomes, conv, lambda m, net, q: m.T if m.ndim == 2 else None, memory):
        return Diagnosis(DiagnosisKind.TRANSPOSE, "holds after a transpose (or with the operands of the product swapped)", "transpose")
    first_net = outcomes[0].network
    for name in _named_factors(first_net):
        if _all_fit(outcomes, conv, lambda m, net, q, name=name: _named_factors(net)[name] * m, memory):
            kind = DiagnosisKind.SIGN if name == "-1" else DiagnosisKind.FACTOR
            text = ("holds with the sign flipped" if name == "-1"
                    else f"holds when multiplied by {name}" + (" (N = batch size)" if "N" in name else "")
                    + (" (K = output width)" if "K" in name else "")
                    + (" (p = the dropout probability)" if "p" in name else ""))
            return Diagnosis(kind, text, f"x {name}")
    for name, power in (("γ", 1.0), ("1/γ", -1.0)):
        if _all_fit(outcomes, conv, lambda m, net, q, power=power: _gamma_scaled(m, net, q, conv, power), memory):
            return Diagnosis(DiagnosisKind.FACTOR, f"holds when multiplied by {name} (batch normalization's γ of the "
                             f"layer, unit by unit)", f"x {name}")
    offset = _offset_diagnosis(outcomes, conv, memory)
    if offset is not None:
        return offset
    for pick in ("sum", "mean"):
        # the reduced axis kept in the column convention (b is (out, 1)), dropped in the row one (b is (out,)): kept
        # there too, a row db not summed over the batch never fitted and was "equals dC/dz[1]" (an outside tester)
        keep = conv == "column"
        reduce = (lambda m, axis: m.sum(axis=axis, keepdims=keep)) if pick == "sum" else \
                 (lambda m, axis: m.mean(axis=axis, keepdims=keep))
        axis = 1 if conv == "column" else 0

        def batch_reduced(m, net, q, reduce=reduce, axis=axis):
            return reduce(m, axis) if m.ndim == 2 and m.shape[axis] == net.batch else None
        if _all_fit(outcomes, conv, batch_reduced, memory):
            return Diagnosis(DiagnosisKind.BATCH_REDUCTION, f"per-sample result: holds after taking the {pick} over the "
                             f"batch (the formula is written for one sample)", f"{pick} over samples")
    regularizer = _l2_diagnosis(outcomes, conv, memory)
    if regularizer is not None:
        return regularizer
    if _made_mistake(outcomes, conv, _derivative_of_a, memory):
        return Diagnosis(DiagnosisKind.DERIVATIVE_OF_A, "matches dC/da ⊙ g'(a): the activation derivative is applied to "
                         "a where it must be applied to z (σ'(a) for σ'(z))", "g'(z) for g'(a)")
    if _made_mistake(outcomes, conv, _gradient_without_derivative, memory):
        return Diagnosis(DiagnosisKind.MISSING_DERIVATIVE, "matches the gradient built from dC/da instead of δ = dC/dz: "
                         "the factor ⊙ g'(z) is missing", "multiply dC/da by g'(z) first")
    other = _other_quantity(outcomes, conv, memory)
    if other:
        claimed = outcomes[0].quantity
        return Diagnosis(DiagnosisKind.QUANTITY, f"equals {other}, not the claimed {claimed}: the formula computes a different "
                         f"derivative than it says (e.g. ∂C/∂z labelled ∂C/∂a)", f"read as {other}")
    shift = _layer_shift(outcomes, conv, memory)
    if shift:
        return Diagnosis(DiagnosisKind.INDEX, f"equals the same quantity at layer l{shift:+d}: the layer index is off by "
                         f"{abs(shift)} (the value is right, the label is not)", f"layer l{shift:+d}")
    ratios = []
    for m, o, net, q in _pairs(outcomes):
        if m.shape != o.shape or not np.any(m):
            return None
        ratios.append(float(np.vdot(m, o) / np.vdot(m, m)))
    if ratios and np.allclose(ratios, ratios[0], rtol=1e-6) and ratios[0] != 1.0 and abs(ratios[0]) > 1e-9 and \
            _all_fit(outcomes, conv, lambda m, net, q: ratios[0] * m, memory):
        factor = _factor_text(ratios[0])
        return Diagnosis(DiagnosisKind.FACTOR, f"holds when multiplied by {factor} (not a simple constant)", f"x {factor}")
    return None


def _factor_text(ratio: float) -> str:
    """A fitted factor: 0.25 as 0.25, and one within 1e-4 of 1 by its distance from 1 ("1 - 1e-06"), which six
    digits would print as 1 (such factors were skipped: an outside tester's ×(1 + 1e-6) was "no simple fix")."""
    if abs(ratio - 1.0) < 1e-4:
        return f"(1 {'+' if ratio > 1 else '-'} {abs(ratio - 1.0):.3g})"
    return f"{ratio:.6g}"


def _named_offsets(net):
    """The constants a cost may be off by: 1 (a term of a mean counted that its sum should skip: the hinge's own
    class, whose margin is always 1) or N (the same without the mean), either sign."""
    return {"- 1": 1.0, "+ 1": -1.0, "- N": float(net.batch), "+ N": -float(net.batch)}


def _offset_diagnosis(outcomes, conv, memory: RunMemory) -> Diagnosis | None:
    """C off by a constant on every failing network. A constant never moves a gradient, but a claim about C
    is about its value, so it is named as what it is rather than left without a fix."""
    if not outcomes or any(not Quantity.parse(o.quantity).is_cost for o in outcomes if o.quantity):
        return None
    for name in _named_offsets(outcomes[0].network):
        if _all_fit(outcomes, conv, lambda m, net, q, name=name: m - _named_offsets(net)[name], memory):
            amount, sign = name[2:], name[0]
            return Diagnosis(DiagnosisKind.OFFSET, f"holds when {amount} is {'subtracted' if sign == '-' else 'added'}"
                             + (" (N = batch size)" if amount == "N" else "") + ": C is off by a constant (a term "
                             "counted that the sum should skip, say), which changes no gradient", name)
    return None


def _other_quantity(outcomes, conv, memory: RunMemory) -> str | None:
    """The quantity of the same layer (dC/dz, dC/da or dC/db) that the formula's value equals on every
    failing network, when it is not the one claimed; None if there is none."""
    # C has no layer; a Jacobian has no other kind of its layer among the gradients
    pairs = [pair for pair in _pairs(outcomes) if not Quantity.parse(pair[3]).is_cost and
             not Quantity.parse(pair[3]).is_jacobian]
    for kind in ("z", "a", "b"):
        names = []
        for m, o, net, q in pairs:
            name = str(Quantity.parse(q).with_kind(kind))
            answers = next(iter(answers_for(net, memory).values()))
            if name == q or name not in answers:
                break
            if not _fits(m, expected_value(name, answers[name], conv), net, name, conv, memory):
                break
            names.append(name)
        else:
            if names:
                return names[0]
    return None

def _layer_shift(outcomes, conv, memory: RunMemory) -> int:
    """A shift s such that on every failing network the value equals the oracle's quantity at layer l + s."""
    pairs = [(np.asarray(o.manual[o.quantity], dtype=np.float64), o.network, Quantity.parse(o.quantity))
             for o in outcomes if o.quantity in o.manual]
    pairs = [(m, net, q) for m, net, q in pairs if not q.is_cost]  # C has no layer
    for shift in (1, -1, 2, -2):
        fits = bool(pairs)
        for m, net, q in pairs:
            neighbour = q.neighbour(shift)
            if not neighbour.exists_on(net.depth):
                fits = False
                break
            other = str(neighbour)
            oracle = expected_value(other, next(iter(answers_for(net, memory, other).values()))[other], conv)
            if not _fits(m, oracle, net, other, conv, memory):
                fits = False
                break
        if fits:
            return shift
    return 0


def _made_mistake(outcomes, conv, mistake, memory: RunMemory) -> bool:
    """True if on every failing network the formula's value equals what `mistake` computes."""
    pairs = list(_pairs(outcomes))
    own_tolerance = getattr(mistake, "tolerance", None)  # how the mistake's own inputs round, where it says
    for m, o, net, q in pairs:
        wrong = mistake(net, q, conv, memory)
        if wrong is None or wrong.shape != m.shape:
            return False
        if not _fits(m, wrong, net, q, conv, memory, model=True,
                     model_tol=None if own_tolerance is None else own_tolerance(net, q, conv, memory)):
            return False
    return bool(pairs)


_Condition = tuple  # (sentence, restricted setting, admits(network) -> bool)


def _precondition_settings(formula):
    """(condition, the setting restricted to it, whether a network satisfies it), simplest first."""
    s = formula.setting
    if s.batch[1] > 1:
        yield "N = 1 (a single sample)", s.restricted(batch=(1, 1)), lambda net: net.batch == 1
    summing = ("onehot", "prob", "labels")  # (labels: one-hot rows as y)
    if any(k in s.targets for k in ("real", "binary")) and any(k in s.targets for k in summing):
        yield ("rows of y summing to 1", s.restricted(targets=tuple(k for k in s.targets if k in summing)),
               lambda net: net.targets in summing)
    one_hot = ("onehot", "labels")  # soft labels ("prob") sum to 1 too: a formula that reads argmax(y) needs more
    if "prob" in s.targets and any(k in s.targets for k in one_hot):
        yield ("rows of y one-hot (hard labels, not soft ones)",
               s.restricted(targets=tuple(k for k in s.targets if k in one_hot)), lambda net: net.targets in one_hot)
    if not s.square and s.width[1] > 1 and s.input_width is None and s.output_width is None:
        yield "square layers", s.restricted(square=True), lambda net: len(set(net.widths)) == 1
    for loss in s.loss if len(s.loss) > 1 else ():
        yield f"loss {loss}", s.restricted(loss=(loss,)), lambda net, loss=loss: net.loss == loss
    for out in s.output if len(s.output) > 1 else ():
        yield (f"output activation {out}", s.restricted(output=(out,)),
               lambda net, out=out: net.output_activation == out)
    for hidden in s.hidden if len(s.hidden) > 1 and s.depth[1] > 1 else ():
        yield (f"hidden activation {hidden}", s.restricted(hidden=(hidden,)),
               lambda net, hidden=hidden: all(h == hidden for h in net.hidden_activations))
    # Not for a formula checked at every layer l: on one layer it is checked at l = L only, where a
    # recursion over the layers below never runs, so "holds on a single layer" would say nothing (seen:
    # document 003's printed Jacobian transpose "held" there only because its product was never formed).
    if s.depth[1] > 1 and s.depth[0] == 1 and not formula.per_layer:
        yield "a single layer", s.restricted(depth=(1, 1)), lambda net: net.depth == 1


def diverse_failures(formula, dtype, memory: RunMemory, examples=40) -> list:
    """Failing outcomes on fresh, unshrunk networks: a shrunk counterexample alone often has N = 1 or
    one output, where 1/N, -1 and 1/K cannot be told apart; varied networks can."""
    from backprop_audit.searching.search import search

    return search(formula, dtype=dtype, examples=examples, shrink=False, keep_going=True,
                  seed=12345, memory=memory).failures


def diagnose(formula, outcomes, *, dtype="float64", examples=PRECONDITION_EXAMPLES,
             memory: RunMemory | None = None) -> Diagnosis:
    """Name the simple change that makes `formula` hold on the failing `outcomes` (minimal first).
    memory: the run's (default: a fresh one); every candidate fix re-reads the failing networks' oracle
    answers from it. The Diagnosis carries its time and the repair search's (report.json)."""
    memory = memory if memory is not None else RunMemory()
    began = time.perf_counter()
    clock = _Clock()
    found = _diagnosis(formula, list(outcomes) + diverse_failures(formula, dtype, memory), dtype, examples, memory, clock)
    found.seconds = time.perf_counter() - began
    found.repair_seconds = clock.repair
    return found


class _Clock:
    """The repair search's time within one diagnosis (None when it never ran)."""

    def __init__(self):
        self.repair = None


def _diagnosis(formula, outcomes, dtype, examples, memory: RunMemory, clock: _Clock) -> Diagnosis:
    numerical = numerical_failures(formula, outcomes, memory)
    if numerical and len(numerical) == len(outcomes):
        return _numerical_diagnosis(formula, numerical, dtype, memory)
    rest = [o for o in outcomes if all(o is not n for n in numerical)]
    worst = None if numerical else rounding_level(rest)
    if worst is not None:
        return Diagnosis(DiagnosisKind.ROUNDING, f"a rounding-level difference: every failure is within {worst:.3g} x the "
                         f"tolerance and the values agree to {agreeing_digits(rest)} significant digits; how the formula "
                         f"as written rounds (a difference of nearly equal numbers, say), not what it computes, so no "
                         f"precondition explains it", "rounding only")
    found = _fix(formula, rest, dtype, memory, clock)
    if found is not None:
        return found
    if numerical:  # no fix for the other failures; the arithmetic one is what can be said
        return _numerical_diagnosis(formula, numerical, dtype, memory)
    precondition = _precondition_diagnosis(formula, rest, dtype, examples, memory)
    if precondition:
        return precondition
    first = rest[0]
    if first.kind in UNEVALUABLE and first.status == Verdict.ERROR:
        beyond = _layer_beyond(formula, first) if first.kind == Finding.RAISED else ""
        return Diagnosis(DiagnosisKind(first.kind), f"the formula cannot be evaluated as written: {first.message}"
                         + (f"; {beyond}" if beyond else ""))
    return Diagnosis(DiagnosisKind.NONE, "no simple fix found")


class _Layers(list):
    """A view's list of W, b, z or a that says which layer an index past its end asked for."""

    def __init__(self, name, values):
        super().__init__(values)
        self.name = name

    def __getitem__(self, index):
        if isinstance(index, int) and not -len(self) <= index < len(self):
            raise _Beyond(self.name, index, len(self) - 1)
        return super().__getitem__(index)


class _Beyond(IndexError):
    def __init__(self, name, index, last):
        super().__init__(f"{name}[{index}]")
        self.name, self.index, self.last = name, index, last


def _layer_beyond(formula, outcome) -> str:
    """For a formula that raised IndexError: the layer it asked for that the network does not have (a loop
    one layer too far, say), as a sentence; "" when that is not why it raised."""
    if "IndexError" not in outcome.message:
        return ""
    view = view_of(outcome.network, formula.convention)
    view = dataclasses.replace(view, **{k: _Layers(k, getattr(view, k)) for k in ("W", "b", "z", "a", "activation")})
    layer = Quantity.parse(outcome.quantity).layer if formula.per_layer else None
    try:
        with np.errstate(all="ignore"):
            formula.compute(view, layer) if formula.per_layer else formula.compute(view)
    except _Beyond as beyond:
        past = beyond.index - beyond.last
        if past <= 0:
            return ""
        return (f"it asks for {beyond.name}[{beyond.index}], layer L+{past}, of a network whose output layer is "
                f"{beyond.last}: its loop runs {'one layer' if past == 1 else f'{past} layers'} past the output; the "
                f"range is Python control flow, which no traced expression records, so no edit of up to two steps "
                f"repairs it")
    except Exception:
        return ""
    return ""


def _fix(formula, outcomes, dtype, memory: RunMemory, clock: _Clock) -> Diagnosis | None:
    """A transform of the value or an edit of the formula that fits every failure, else None."""
    first = outcomes[0]
    if first.kind in UNEVALUABLE and first.status == Verdict.ERROR:
        shape_fix = _transform_diagnosis(formula, [o for o in outcomes if o.quantity in o.manual], memory) \
            if first.kind == Finding.SHAPE else None
        return shape_fix or _repair_diagnosis(formula, outcomes, dtype, memory, clock)
    return _transform_diagnosis(formula, outcomes, memory) or _repair_diagnosis(formula, outcomes, dtype, memory, clock)


def _numerical_diagnosis(formula, failures, dtype, memory: RunMemory) -> Diagnosis:
    """NaN/inf where the exact value is finite (or float32 failing where float64 holds): where it breaks,
    and a stable rewrite where one holds; "undefined as written" when extended precision gives NaN or inf too
    (numerical.undefined_as_written: no rewrite can help, and "underflowed" would be a guess)."""
    if undefined_as_written(formula, failures):
        where = next((w for w in (where_it_breaks(formula, o, exactly=True) for o in failures[:3]) if w), "")
        return Diagnosis(DiagnosisKind.NUMERICAL, "undefined as written where the exact value is finite: it gives NaN "
                         "or inf" + (f" ({where})" if where else "") + ", in extended precision too (np.longdouble, the "
                         "forward pass included): the formula makes it, not the dtype's range or rounding, so no "
                         "stable rewrite can help", "undefined")
    where = next((w for w in (where_it_breaks(formula, o) for o in failures[:3]) if w), "")
    how = ("gives NaN or inf where the exact value is finite" if any(o.kind == Finding.NONFINITE for o in failures)
           else "fails in float32 where float64 holds on the same networks")
    rewrite = stable_rewrite(formula, failures, dtype, memory)
    text = f"numerically unstable as written: it {how}" + (f" ({where})" if where else "")
    if rewrite is None:
        return Diagnosis(DiagnosisKind.NUMERICAL, text + "; no stable rewrite found", "unstable")
    return Diagnosis(DiagnosisKind.NUMERICAL, text + f"; stable rewrite: {rewrite.expression}", "stable rewrite", rewrite)


def _cancellation_diagnosis(repair) -> Diagnosis:
    """The formula traced with its derivative forms as the operation table computes them (σ' as σ(1 - σ), softplus'
    as σ) holds where the formula as written does not: what it writes out loses accuracy (1 - 1/(1 + e^z) cancels
    for z << 0), in float64 too, and never gives NaN. Said as a repair of no edit, it read "holds after the edit :"
    (an outside tester)."""
    rewrite = dataclasses.replace(repair, edits=[f"rewrite with {DERIVATIVE_FORMS}"],
                                  labels=["stable rewrite"])
    return Diagnosis(DiagnosisKind.NUMERICAL, "numerically unstable as written: a derivative form it writes out loses "
                     "accuracy (a difference of nearly equal numbers: cancellation, not overflow); stable rewrite: "
                     f"{repair.expression}", "stable rewrite", rewrite)


def _repair_diagnosis(formula, outcomes, dtype, memory: RunMemory, clock: _Clock) -> Diagnosis | None:
    """The smallest edit of the traced formula that makes it hold (verdicts/repair.py), as a diagnosis."""
    from backprop_audit.verdicts.repair import find_repair  # repair searches: imported after a search, as above

    began = time.perf_counter()
    try:
        repair = find_repair(formula, outcomes, dtype, memory)
    finally:
        clock.repair = (clock.repair or 0.0) + time.perf_counter() - began
    if repair is None:
        return None
    if not repair.edits:  # no edit, relabel or factor: the trace holds as traced, its derivative forms as the table's
        return _cancellation_diagnosis(repair)
    return Diagnosis(DiagnosisKind.REPAIR, f"holds after the edit{'s' if len(repair.edits) > 1 else ''} "
                     f"{'; '.join(repair.edits)}: {repair.expression}", "; ".join(repair.labels), repair)


def _with_power(result, examples: int) -> bool:
    """Whether a restricted search that held is evidence: at least half of `examples` of its checks would have
    caught a ×2 or a zero (not vacuous, Outcome.vacuous). A restriction on which the checked quantity is
    identically zero (batch norm at N = 1: ẑ = 0, every gradient through it exactly 0, so any formula "holds"),
    or on which the dtype cannot judge it, proves nothing: seen, batch norm's dx with γ counted twice was named
    "holds only when N = 1" on 500 checks that all compared 0 with 0."""
    return result.passed - result.vacuous >= examples / 2


def _precondition_diagnosis(formula, outcomes, dtype, examples, memory: RunMemory) -> Diagnosis | None:
    """The first restriction that every failing network violates and on which a search of `examples`
    networks holds with power (_with_power); None when there is none."""
    from backprop_audit.searching.search import search  # search imports evaluate; diagnosis runs after a search, never inside one

    for condition, setting, admits in _precondition_settings(formula):
        if any(admits(o.network) for o in outcomes):  # a failure where it is met: it is not what fails
            continue
        try:
            # a probe first: a restriction on which nothing can be judged is seen on a few networks (the full
            # search draws the same ones first, remembered by content, so a real precondition pays ~nothing)
            probe = search(formula, setting=setting, dtype=dtype, examples=PROBE_EXAMPLES, shrink=False, memory=memory)
            if not (probe.held and _with_power(probe, probe.examples)):
                continue
            result = search(formula, setting=setting, dtype=dtype, examples=examples, shrink=False, memory=memory)
        except Exception:  # a restriction with no valid network (e.g. no loss fits): not a precondition
            continue
        if result.held and result.examples >= examples and _with_power(result, examples):
            return Diagnosis(DiagnosisKind.PRECONDITION, f"holds only when {condition}: a precondition the text leaves "
                             f"unstated (every failing network breaks it; it held on {result.examples} networks that "
                             f"meet it)", f"require {condition}")
    return None
