"""One formula on one network: the manual value, both oracles, the comparison. One Outcome.

The formula runs on a View of the network in its own convention; the oracles' canonical quantities
and the tolerances are converted into that convention by the one adapter (convention.py). Anything
the formula does wrong (raises, wrong shape or dtype, NaN or inf) is an Outcome with status "error"
and a message saying which; it never stops the run.

Two things can make the oracles themselves unfit to judge an entry, and both are said, never hidden:
- torch and jax disagree beyond tolerance: the third oracle, central finite differences in float64
  (references/finite_differences.py), decides which to keep for that quantity, and the disagreement is
  noted (Outcome.oracle_note; search collects the notes, the report prints them as "oracle_notes");
- a ReLU pre-activation sits on its kink (z = 0 up to rounding): the derivative does not exist there and
  torch, jax and a textbook each pick their own subgradient (torch 0, jax 1/2, most texts 0). The entries
  that depend on relu'(z) at the kink are known exactly (kink_masks); a disagreement confined to them is
  classified kind "kink" (verdict holds, the message and oracle_note say so), a disagreement elsewhere is
  still a mismatch. The strategies keep their networks off kinks; this is for networks built by hand.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field

import numpy as np

from backprop_audit.judging import compare, untrusted

from backprop_audit.judging import tolerance
from backprop_audit.model.convention import expected_value, view_of
from backprop_audit.judging.memory import RunMemory
from backprop_audit.judging.reference import jacobian_reference, reference
from backprop_audit.model import operations
from backprop_audit.model.quantity import Quantity, layer_names
from backprop_audit.references import finite_differences
from backprop_audit.verdicts.vocabulary import Finding, Verdict, verdict_of



@dataclass
class Outcome:
    status: Verdict  # of this example: holds, fails (a mismatch) or error (no comparable number)
    ratio: float  # worst |manual - oracle| / tol (inf for an error)
    message: str  # empty when ok (except kind "kink", which says which entries were excused and why)
    network: object
    kind: Finding = Finding.OK
    quantity: str = ""  # the canonical quantity name where the worst entry is, e.g. dC/dW[2]
    index: tuple | None = None
    oracle_ratio: float = 0.0  # worst |torch - jax| / tol, kink entries excluded
    oracle_note: str = ""  # set when torch and jax disagree beyond tolerance (and what decided it), or at a kink
    manual: dict = field(default_factory=dict, repr=False)  # quantity -> value, in the formula's convention
    oracle: dict = field(default_factory=dict, repr=False)  # oracle name -> {quantity -> value}, same
    detects: float = float("inf")  # the smallest relative error of a ×(1 + ε) mistake it would catch (tolerance.detects)

    @property
    def vacuous(self) -> bool:
        """A check that holds but would pass zeros or twice the true value too (detects >= 1): no evidence."""
        return self.status == Verdict.HOLDS and self.detects >= 1.0

    @property
    def failed(self) -> bool:
        return self.status != Verdict.HOLDS


def views_for_calls(formula, net, calls: int) -> list:
    """One View of `net` per call of the formula, all made before the first call: a per-layer formula's
    calls get one each too, so an edit one call makes to its inputs reaches no other call (convention.View.copy)."""
    first = view_of(net, formula.convention)
    return [first] + [first.copy() for _ in range(calls - 1)]


def _answer(formula, view, layer):
    """The formula's value at `layer`, or the FormulaRaised its code raised (for the repeat check)."""
    try:
        return untrusted.call(formula, view, layer)
    except untrusted.FormulaRaised as raised:
        return raised


def _same_answer(first, second, tol) -> bool:
    """Whether two calls on the same network answered the same: the same exception type, or values of one
    type, shape and dtype, non-finite in the same entries and within `tol` of each other elsewhere (not
    bit for bit: NumPy's sums may round differently on differently aligned copies of the same inputs)."""
    if isinstance(first, untrusted.FormulaRaised) or isinstance(second, untrusted.FormulaRaised):
        return type(getattr(first, "error", first)) is type(getattr(second, "error", second))
    if type(first) is not type(second):
        return False
    try:
        a, b = np.asarray(first), np.asarray(second)
        if a.shape != b.shape or a.dtype != b.dtype or a.dtype.kind not in "fiub":
            return a.shape == b.shape and a.dtype == b.dtype and bool(np.all(a == b))
        finite = np.isfinite(a)
        if not np.array_equal(finite, np.isfinite(b)) or not np.array_equal(a[~finite], b[~finite], equal_nan=True):
            return False
        with np.errstate(invalid="ignore"):  # inf - inf where both are inf (compared above): the tool's, not the claim's
            close = np.abs(a.astype(float) - b) <= (tol if np.shape(tol) == a.shape else 0.0)  # a wrong shape: exactly
        return bool(np.all(close[finite]))
    except Exception:  # values the comparison cannot even read: not the same answer
        return False


def nondeterministic(formula, net, q: str, why: str, oracle_ratio: float = 0.0, oracle_note: str = "") -> Outcome:
    """The error Outcome of a formula that answered differently on the same network (its verdict would
    depend on which call was judged)."""
    return Outcome(Verdict.ERROR, float("inf"), f"{formula.id}: {q}: nondeterministic formula: {why}", net,
                   Finding.NONDETERMINISTIC, q, oracle_ratio=oracle_ratio, oracle_note=oracle_note)


def _repeated(formula, net, claimed, first, tol):
    """None when a second call on a fresh view of `net` gives the same answer as `first`; else why not."""
    second = _answer(formula, views_for_calls(formula, net, 1)[0], claimed.layer)
    if _same_answer(first, second, tol):
        return None
    shown = [f"raised {a}" if isinstance(a, untrusted.FormulaRaised) else "a value" for a in (first, second)]
    if shown[0] == shown[1]:
        shown[1] = "another value"
    return f"two calls on the same network gave different answers ({shown[0]}, then {shown[1]})"


LOSS_KINK = "loss"  # the layer of a kinks() entry that is the loss's kink at a[L], not a relu's at z[l]


def kinks(net, forward: tolerance.Forward | None = None) -> list[tuple[int | str, np.ndarray]]:
    """[(layer, boolean (N, n_l) array of units on the kink)] for every relu layer with a unit at z = 0,
    within rounding of 0 in the network's dtype (tolerance.kink_cells, the one kink test; forward:
    tolerance.forward_pass(net), if already computed), then (LOSS_KINK, the cells of a[L] on the loss's kink)
    if a kinked loss (mae, the hinge) has one (tolerance.loss_kink_cells)."""
    found = [(l, on) for l, on in tolerance.kink_cells(net, forward) if on.any()]
    on = tolerance.loss_kink_cells(net, forward)
    return found + ([(LOSS_KINK, on)] if on is not None and on.any() else [])


def _mark_delta(masks, names, l, on):
    """The entries that depend on δ[l] at the cells `on`: δ[l] there, dW[l]'s rows and db[l]'s entries of those
    units, and below layer l every entry of those samples and all of dW and db (sums over samples)."""
    masks[names[l].z] |= on
    masks[names[l].W][on.any(axis=0), :] = True
    masks[names[l].b] |= on.any(axis=0)
    samples = on.any(axis=1)
    for k in range(1, l):
        masks[names[k].z][samples, :] = True
        masks[names[k].a][samples, :] = True
        masks[names[k].W][:] = True
        masks[names[k].b][:] = True


def kink_masks(net, found) -> dict[str, np.ndarray]:
    """For each canonical quantity, the entries whose value depends on relu'(z) at a kink in `found`.

    A kink at sample n, unit j of layer l enters δ[l][n, j], hence dW[l] row j and db[l][j], and
    everything below layer l that sample n feeds: δ[k] and dC/da[k] row n for k < l, and all of dW[k],
    db[k] (sums over samples). dC/da[l] and everything above layer l, and C, do not depend on it.
    A loss kink (LOSS_KINK) at a[L][n, j] enters dC/da[L][n, j] and, through g'(z[L]), δ[L][n, j] (the row n
    through a softmax), and from there everything a relu kink at layer L would.
    """
    L, N, widths = net.depth, net.batch, net.widths
    masks = {"C": np.zeros((), bool)}
    names = [None] + [layer_names(l) for l in range(1, L + 1)]  # names[l].z: the key of dC/dz[l]
    for l in range(1, L + 1):
        masks[names[l].z] = np.zeros((N, widths[l]), bool)
        masks[names[l].a] = np.zeros((N, widths[l]), bool)
        masks[names[l].W] = np.zeros((widths[l], widths[l - 1]), bool)
        masks[names[l].b] = np.zeros((widths[l],), bool)
    normalized = [l for l in range(1, L + 1) if net.layers[l - 1].gamma is not None]
    for l in normalized:
        gamma, beta, u = tolerance.norm_names_at(l)
        masks[gamma], masks[beta] = np.zeros((widths[l],), bool), np.zeros((widths[l],), bool)
        masks[u] = np.zeros((N, widths[l]), bool)
    for l, on in found:
        if l != LOSS_KINK and l in normalized:  # u[l] on the kink: du there, dγ, dβ of its units, and, since
            # dz = (γ/σ)(du - mean du - ẑ·mean(du ⊙ ẑ)) mixes the batch, dz[l] of those units for every sample
            gamma, beta, u = tolerance.norm_names_at(l)
            masks[u] |= on
            masks[gamma] |= on.any(axis=0)
            masks[beta] |= on.any(axis=0)
            on = np.broadcast_to(on.any(axis=0), on.shape)
        if any(k < (L if l == LOSS_KINK else l) for k in normalized):  # a batch norm below mixes the samples: every entry below l
            for k in range(1, l):
                for name in (names[k].z, names[k].a, names[k].W, names[k].b) + \
                        (tolerance.norm_names_at(k) if k in normalized else ()):
                    masks[name][:] = True
        if l == LOSS_KINK:  # dC/da[L] at the cells, then δ[L] there (the whole row through a softmax's Jacobian)
            masks[names[L].a] |= on
            coupled = operations.activation(net.output_activation).coupled
            _mark_delta(masks, names, L, np.broadcast_to(on.any(axis=1, keepdims=True), on.shape) if coupled else on)
        else:
            _mark_delta(masks, names, l, on)
    if net.eta is not None:  # a step W'[l] = W - η·dC/dW[l] depends on a kink where its gradient does
        for l in range(1, L + 1):
            masks[f"W'[{l}]"], masks[f"b'[{l}]"] = masks[names[l].W], masks[names[l].b]
    return masks


def jacobian_kink_masks(net, found) -> dict[str, np.ndarray]:
    """For each local Jacobian, the entries whose value depends on relu'(z) at a kink in `found`: a kink at
    sample n, unit j of layer l is da[l]/dz[l][n, j, j], row j of da[l]/dW[l][n] and of da[l]/da[l-1][n] (the
    kind da[l+1]/da[l] at l - 1). The dz Jacobians do not depend on g', and relu(z) is 0 on either side of it."""
    masks = {}
    for l, on in found:
        if l == LOSS_KINK:  # the loss is in no Jacobian
            continue
        n, j = np.nonzero(on)
        diagonal = np.zeros((net.batch,) + (net.widths[l],) * 2, bool)
        diagonal[n, j, j] = True
        rows = np.zeros((net.batch, net.widths[l], net.widths[l - 1]), bool)
        rows[n, j, :] = True
        masks[str(Quantity.of("da/dz", l))] = diagonal
        masks[str(Quantity.of("da/dW", l))] = rows
        if l >= 2:
            masks[str(Quantity.of("da/da", l - 1))] = rows
    return masks


def _describe_kinks(found) -> str:
    parts = []
    relu = [(l, on) for l, on in found if l != LOSS_KINK]
    if relu:
        places = [f"z[{l}][{n}, {j}]" for l, on in relu for n, j in np.argwhere(on)]
        shown = ", ".join(places[:4]) + (f" and {len(places) - 4} more" if len(places) > 4 else "")
        parts.append(f"ReLU kink: {shown} = 0, where relu has no derivative (torch takes relu'(0) = 0, jax 1/2, "
                     f"a text its own choice)")
    for l, on in found:
        if l == LOSS_KINK:
            places = [f"a[L][{n}, {j}]" for n, j in np.argwhere(on)]
            shown = ", ".join(places[:4]) + (f" and {len(places) - 4} more" if len(places) > 4 else "")
            parts.append(f"loss kink: {shown} where the loss has no derivative (mae at a = y, the hinge at a margin "
                         f"of 0: torch, jax and a text each take their own subgradient)")
    return "; ".join(parts)


def _excused(tol: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """tol with the kink entries set to inf: any difference there counts as 0 x tolerance."""
    return tol if mask is None or not mask.any() else np.where(mask, np.inf, tol)


def oracle_disagreement(net, answers, tolerances, masks=None) -> tuple[float, dict[str, float]]:
    """Worst |torch - jax| / tol over every quantity (kink entries excluded), and {quantity: ratio} where > 1."""
    if len(answers) < 2:
        return 0.0, {}
    (name_a, qa), (name_b, qb) = list(answers.items())[:2]
    worst, beyond = 0.0, {}
    for q, value in qa.items():
        if not (np.all(np.isfinite(value)) and np.all(np.isfinite(qb[q]))):
            continue
        tol = _excused(tolerance.tolerance_for(tolerances[q], value), (masks or {}).get(q))
        ratio, _ = compare.worst_ratio(value, qb[q], tol)
        worst = max(worst, ratio)
        if ratio > 1:
            beyond[q] = ratio
    return worst, beyond


def _settle_disagreements(net, answers, beyond) -> tuple[dict[str, list[str]], list[str]]:
    """For each disagreeing quantity, the oracles finite differences side with, and one note each."""
    keep, notes = {}, []
    (name_a, qa), (name_b, qb) = list(answers.items())[:2]
    for q, ratio in sorted(beyond.items(), key=lambda item: -item[1]):
        kept, verdict = finite_differences.decide(net, q, {name: answers[name][q] for name in answers})
        keep[q] = kept
        where = np.unravel_index(int(np.argmax(np.abs(qa[q].astype(float) - qb[q]))), qa[q].shape) if qa[q].ndim else ()
        notes.append(f"{name_a} and {name_b} disagree on {q} at {tuple(int(i) for i in where)}: "
                     f"{qa[q][where]!r} vs {qb[q][where]!r} ({ratio:.3g} x tolerance) on {net.describe()}; {verdict}")
    return keep, notes


def float32_oracle_faults(net, ref) -> tuple[float, list[str]]:
    """A measured float32 network's float32 oracles against the float64 truth (judging/reference.py):
    the worst |float32 - float64| / worst-case float32 tolerance, and a note for each oracle beyond it."""
    if ref.float32_answers is None:
        return 0.0, []
    truth = next(iter(ref.answers.values()))
    worst, notes = 0.0, []
    for name, values in ref.float32_answers.items():
        for q, value in values.items():
            if not np.all(np.isfinite(value)):
                continue
            ratio, _ = compare.worst_ratio(value, truth[q], tolerance.tolerance_for(ref.float32_tolerances[q], truth[q]))
            worst = max(worst, ratio)
            if ratio > 1:
                notes.append(f"{name} in float32 is off the float64 oracles on {q} by {ratio:.3g} x its worst-case "
                             f"rounding bound on {net.describe()}")
    return worst, notes


def _judge(net, answers, tolerances=None, oracle_ratio=None, ref=None, forward=None, jacobians=False) -> tuple:
    """The formula-independent part of a check: (tolerances, kinks found, their masks, the oracles' worst
    disagreement ratio, the oracles finite differences kept per disagreeing quantity, the oracle note).
    ref: the network's judging/reference.Reference (its tolerances are then given); forward:
    tolerance.forward_pass(net), if already computed; jacobians: `answers` are the local Jacobians."""
    if tolerances is None or oracle_ratio is None:
        p = tolerance.Parameters.of(net)
        forward = forward or tolerance.forward_pass(p)  # once, for the tolerances and the kink test
        of = tolerance.jacobian_tolerances if jacobians else tolerance.tolerances
        tolerances = tolerances if tolerances is not None else of(p, forward=forward)
    faults = []
    if oracle_ratio is None:
        found = kinks(p, forward)
        masks = (jacobian_kink_masks if jacobians else kink_masks)(net, found) if found else {}
        oracle_ratio, beyond = oracle_disagreement(net, answers, ref.instrument if ref else tolerances, masks)
        if ref is not None:
            float32_ratio, faults = float32_oracle_faults(net, ref)
            oracle_ratio = max(oracle_ratio, float32_ratio)
    else:
        found, masks, beyond = [], {}, {}
    keep, notes = _settle_disagreements(net, answers, beyond) if beyond else ({}, [])
    notes += faults
    if found:
        notes.append(_describe_kinks(found) + "; a disagreement confined to the entries that depend on it is a kink, not a mismatch")
    return tolerances, found, masks, oracle_ratio, keep, " | ".join(notes)


# A network is often checked by several formulas (the tests, the diagnosis, a soak), and _judge is about
# half of a single check (~1 ms of ~2 ms here): a run remembers it per network (RunMemory.judged).
# Networks larger than _JUDGED_LARGEST entries are not kept: their tolerances are large.
_JUDGED_LARGEST = 100_000


def judged_network(net, memory: RunMemory, jacobians: bool = False) -> tuple:
    """(the oracles' answers `net` is judged against, _judge of net against them), remembered in `memory`
    (a caller checking many formulas on one large network, which memory does not keep, passes it to
    evaluate as `judged`). jacobians: the local Jacobians' answers and judgement (a Jacobian claim), not
    the gradients'."""
    table = memory.judged_jacobians if jacobians else memory.judged
    judged = table.get(net.fingerprint())
    if judged is None:
        forward = tolerance.forward_pass(net)
        ref = (jacobian_reference if jacobians else reference)(net, memory, forward)
        judged = (ref.answers, _judge(net, ref.answers, ref.tolerances, None, ref, forward, jacobians))
        if net.X.size + sum(layer.W.size for layer in net.layers) <= _JUDGED_LARGEST:
            table.put(net.fingerprint(), judged)
    return judged


def evaluate(formula, net, answers: dict | None = None, tolerances: dict | None = None, *,
             oracle_ratio: float | None = None, memory: RunMemory | None = None, repeat: bool = False,
             judged: tuple | None = None) -> Outcome:
    """Check `formula` on `net` against every available oracle (answers/tolerances: precomputed, optional).

    oracle_ratio: given by a caller that has already established, for this network, that no ReLU unit is
    on its kink and that the oracles agree within tolerance on every quantity, worst at this ratio
    (screen.py does both for a whole stack of networks at once); then those two steps are skipped here.
    memory: the run's (default: a fresh one); the oracles' answers and the judged half come from it when
    they are not given.
    repeat: call the formula a second time on every quantity even when it holds (a failing quantity is
    always called twice): two different answers make the Outcome the error "nondeterministic formula".
    judged: judged_network(net, memory), if already computed (then answers and tolerances are its own).
    """
    memory = memory if memory is not None else RunMemory()
    jacobians = formula.target.is_jacobian  # judged against the oracles' local Jacobians, one network at a time
    if judged is not None:
        answers, judged = judged
    elif answers is None and tolerances is None and oracle_ratio is None:
        answers, judged = judged_network(net, memory, jacobians)
    else:
        answers = answers if answers is not None else \
            memory.jacobian_answers(net) if jacobians else memory.oracle_answers(net)
        judged = _judge(net, answers, tolerances, oracle_ratio, jacobians=jacobians)
    tolerances, found, masks, oracle_ratio, keep, oracle_note = judged
    claims = formula.target.on(net.depth)
    views = views_for_calls(formula, net, len(claims))
    worst = compare.Comparison(True, 0.0, "", "ok")
    worst_q, excused, power = "", [], float("inf")
    manual_values, oracle_values = {}, {name: {} for name in answers}
    for claimed, view in zip(claims, views):
        q, layer = str(claimed), claimed.layer
        label = f"{formula.id}: {q}" + (f" (layer {layer})" if layer else "")
        if not claimed.exists_on(net.depth):
            return Outcome(Verdict.ERROR, float("inf"), f"{label}: layer {layer} does not exist in a depth-{net.depth} "
                           f"network", net, Finding.SHAPE, q)
        value = _answer(formula, view, layer)
        judges = keep.get(q, list(answers))  # the oracles finite differences kept, or both
        expected = {name: expected_value(q, answers[name][q], formula.convention) for name in judges}
        reference = answers[judges[0]][q]
        tol = expected_value(q, tolerance.tolerance_for(tolerances[q], reference), formula.convention)
        power = min(power, tolerance.detects(tol, expected_value(q, reference, formula.convention)))
        if isinstance(value, untrusted.FormulaRaised):  # the formula itself failed: a finding, not a crash
            why = _repeated(formula, net, claimed, value, tol)
            if why:
                return nondeterministic(formula, net, q, why, oracle_ratio, oracle_note)
            error = value.error
            where = traceback.extract_tb(error.__traceback__)[-1]
            return Outcome(Verdict.ERROR, float("inf"), f"{label}: raised {type(error).__name__}: {error} "
                           f"(at {where.name}, line {where.lineno})", net, Finding.RAISED, q,
                           oracle_ratio=oracle_ratio, oracle_note=oracle_note)
        result = compare.compare_entrywise(label, value, expected, tol, net.dtype)
        if result.kind in ("mismatch", "ok") and masks.get(q) is not None and masks[q].any():
            away = compare.compare_entrywise(label, value, expected,
                                             _excused(tol, expected_value(q, masks[q], formula.convention)), net.dtype)
            if result.kind == "mismatch" and away.ok:  # the formula differs only where a subgradient is a choice
                excused.append(f"{label} differs from the oracles only at entries that depend on a kink's subgradient")
            result = away  # held too: its worst ratio away from the kink (a kink entry's is no measure of rounding)
        manual_values[q] = np.asarray(value) if isinstance(value, (np.ndarray, np.number, float, int)) else value
        for name in answers:
            oracle_values[name][q] = expected[name] if name in expected else \
                expected_value(q, answers[name][q], formula.convention)
        why = _repeated(formula, net, claimed, value, tol) if repeat or not result.ok else None
        if why:
            return nondeterministic(formula, net, q, why, oracle_ratio, oracle_note)
        if not result.ok:
            return Outcome(verdict_of(result.kind), result.ratio, result.problem, net, result.kind, q, result.index,
                           oracle_ratio, oracle_note, manual_values, oracle_values)
        if result.ratio >= worst.ratio:
            worst, worst_q = result, q
    if excused:
        message = "; ".join(excused) + f" ({_describe_kinks(found)}): classified as a kink, not a mismatch"
        return Outcome(Verdict.HOLDS, worst.ratio, message, net, Finding.KINK, worst_q, worst.index, oracle_ratio,
                       oracle_note, manual_values, oracle_values, power)
    return Outcome(Verdict.HOLDS, worst.ratio, "", net, Finding.OK, worst_q, worst.index, oracle_ratio, oracle_note,
                   manual_values, oracle_values, power)
