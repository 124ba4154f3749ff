"""Check one formula on many networks: the oracles and the tolerance model run once per padded stack of
networks (padded.py), and every network is then judged by the same evaluate() as a single check.

Per network, evaluate() would pay ~0.6 ms for torch's autograd graph, ~0.6 ms for a jax dispatch and
~0.4 ms of NumPy calls for the tolerances and the kink test, almost all of it overhead that does not
depend on the network's size. Here those run on CHUNK networks at a time:

1. networks that fit are grouped by dtype, ordered by size and stacked CHUNK at a time; each oracle computes
   every quantity of the stack in one call (torch_autograd.padded_quantities, jax_grad.padded_quantities),
   the tolerance model in one NumPy pass (tolerance.py's own functions on Parameters.of_padded, the
   stack as vectorised single networks), the ReLU-kink test (tolerance.kink_cells) too;
2. torch and jax are compared with each other on the whole stack at once, entry by entry, within the
   same tolerance as evaluate.oracle_disagreement, by the same ratio (compare.ratios);
3. the formula runs on each network (its own code, one network at a time, as in a single check); its
   values are checked for type, shape, dtype and finiteness, stacked, and compared with both oracles
   entry by entry on the whole stack at once: |formula - oracle| / tol, the tolerance of evaluate();
4. a network where every entry is within tolerance holds (an Outcome with its worst ratio); any other
   is judged by evaluate(), so every message and Outcome comes from one place: a mismatch, or the
   formula raising or returning a wrong shape, dtype or a non-finite value, with the oracles' and
   tolerances' stacked results reused; a network on a ReLU kink, where torch and jax disagree or return
   a non-finite value, or that does not fit the stack, by plain evaluate(formula, net) (kink
   classification, the finite-difference tie-break).
A network the stack found failing that evaluate() finds holding (or no longer raising) got two different
answers from the formula: the error "nondeterministic formula" (_judged_again).
tests/test_screen.py checks that check_many gives evaluate()'s verdicts and ratios, network by network.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from backprop_audit import references
from backprop_audit.model.convention import canonical_value, expected_value
from backprop_audit.judging import compare, tolerance
from backprop_audit.model.quantity import Quantity
from backprop_audit.judging import untrusted
from backprop_audit.judging.evaluate import Outcome, evaluate, nondeterministic, views_for_calls
from backprop_audit.verdicts.vocabulary import Finding, Verdict
from backprop_audit.judging.memory import RunMemory, shared
from backprop_audit.batching.jacobians import remember_jacobians
from backprop_audit.batching.padded import NetworkView, PaddedStack, chunks, fits


class ToleranceView(Mapping):
    """One network's {quantity: tolerance.tolerances' pieces} read out of stacked tolerances."""

    def __init__(self, stack: PaddedStack, stacked: dict, g: int):
        self.stack, self.g = stack, g
        # B of a gradient; of a step quantity W'[k] (a tolerance.StepScale) the parameter W[k] before the step
        self.B = NetworkView(stack, {q: value.parameter if isinstance(value, tolerance.StepScale) else value[1]
                                     for q, value in stacked.items()}, g)
        self.stacked = stacked

    def __getitem__(self, quantity: str):
        q = Quantity.parse(quantity)
        stack_name = str(self.stack.in_stack(self.g, q))
        if q.is_step:
            step = self.stacked[stack_name]
            return tolerance.StepScale(self[str(q.gradient())], self.B[quantity], float(step.eta[self.g]), step.rounding)
        coefficient, _, amplification, floor = self.stacked[stack_name]
        return coefficient[self.g], self.B[quantity], amplification[self.g], floor

    def __iter__(self):
        return iter(self.B)

    def __len__(self):
        return len(self.B)




def oracle_disagreements(stack: PaddedStack, answers: dict, tolerances: dict) -> np.ndarray:
    """Per slot, the worst |torch - jax| / tol over every real entry of every quantity (inf where either
    oracle returned a non-finite value: such a network is left to the single check)."""
    worst = np.zeros(stack.count)
    if len(answers) < 2:
        return worst
    first, second = list(answers.values())[:2]
    for name, value in first.items():
        other = second[name]
        ratio = compare.ratios(value, other, tolerance.stacked_tolerance_for(tolerances[name], value))
        ratio[~(np.isfinite(value) & np.isfinite(other))] = np.inf
        worst = np.maximum(worst, compare.worst_per_network(ratio, stack.real_mask(name)))
    return worst


def _formula_values(formula, stack: PaddedStack, reference: dict, screened: np.ndarray, raised: np.ndarray) -> dict:
    """The formula's value on every screened network, canonical layout, stacked like the oracles'
    quantities ({stack quantity: (count, ...) array}, zero outside each network's real entries).

    A network whose formula call raises (marked in `raised`), or returns something that is not a finite
    array of the expected shape and dtype, is taken off `screened` (in place): evaluate() reports it,
    with the one message for each of those cases. Also {stack quantity: which networks gave a value
    there}: a quantity of a fixed layer (dC/dW[1]) is another stack quantity in a network with identity
    layers in front, and a network is compared only where it gave a value."""
    values, given = {}, {}
    for g in np.flatnonzero(screened):
        net = stack.networks[g]
        claims = formula.target.on(net.depth)
        for claimed, view in zip(claims, views_for_calls(formula, net, len(claims))):
            if not claimed.exists_on(net.depth):
                screened[g] = False
                break
            q, layer = str(claimed), claimed.layer
            try:
                value = untrusted.call(formula, view, layer)
            except untrusted.FormulaRaised:
                screened[g], raised[g] = False, True
                break
            expected_shape = expected_value(q, stack.take(reference, g, q), formula.convention).shape
            if not (isinstance(value, np.ndarray) and value.shape == expected_shape and value.dtype == net.dtype
                    and np.isfinite(value).all()):
                screened[g] = False  # (a Python or NumPy scalar too: evaluate() judges it)
                break
            name = str(stack.in_stack(g, claimed))
            if name not in values:
                values[name], given[name] = np.zeros_like(reference[name]), np.zeros(stack.count, bool)
            given[name][g] = True
            canonical = canonical_value(q, value, formula.convention)
            values[name][(g,) + tuple(slice(0, n) for n in canonical.shape)] = canonical
    return values, given


def _formula_ratios(stack: PaddedStack, values: dict, given: dict, answers: dict, tolerances: dict):
    """Per network, the worst |formula - oracle| / tol over the formula's entries and every oracle (as
    compare.compare_entrywise computes it, tol from the first oracle's value as in evaluate), the
    stack quantity where it is reached, and what the check detects (tolerance.detects)."""
    worst, where = np.zeros(stack.count), np.full(stack.count, "", dtype=object)
    power = np.full(stack.count, np.inf)
    first = next(iter(answers.values()))
    for name, value in values.items():
        tol = tolerance.stacked_tolerance_for(tolerances[name], first[name])
        real = stack.real_mask(name)
        relative = tolerance.relative_tolerance(tol, first[name])  # tolerance.detects, per network
        detected = np.where(real, relative, np.inf).reshape(stack.count, -1).min(axis=1)
        power = np.minimum(power, np.where(given[name], detected, np.inf))  # only where the formula gave it
        for oracle in answers.values():
            per_network = np.where(given[name], compare.worst_per_network(compare.ratios(value, oracle[name], tol), real), 0.0)
            where = np.where(per_network > worst, name, where)
            worst = np.maximum(worst, per_network)
    return worst, where, power


def _judged_again(formula, judge: Callable[[], Outcome], stack_ratio: float, stack_raised: bool) -> Outcome:
    """evaluate()'s Outcome for a network the stack found failing (a mismatch at `stack_ratio`, or the
    formula raising). Both called the formula on the same network: when evaluate() now finds it holding,
    or no longer raising, the formula answered twice differently, and which answer was judged would
    decide the verdict: the error "nondeterministic formula"."""
    outcome = judge()
    if stack_raised and outcome.kind != Finding.RAISED:
        why = "it raised in the batched check, not when called again on the same network"
    elif np.isfinite(stack_ratio) and not outcome.failed:
        why = (f"the batched check found it {stack_ratio:.3g} x tolerance away from the oracles, a second call "
               f"on the same network {outcome.ratio:.3g} x")
    else:
        return outcome
    return nondeterministic(formula, outcome.network, outcome.quantity or formula.quantity, why,
                            outcome.oracle_ratio, outcome.oracle_note)


@dataclass
class _Pending:
    """A network the stack did not settle: evaluate() will (`judge`). `fails` says whether the stack
    already knows it fails (a mismatch, or the formula's own error), `ratio` the stack's worst ratio."""
    judge: Callable[[], Outcome]
    fails: bool
    ratio: float
    network: object


@dataclass(frozen=True)
class _StackedOracles:
    """What a stack's check needs that does not depend on the formula: the stack, each oracle's stacked
    quantities, the tolerances, the kink test and torch-vs-jax disagreement per network."""
    stack: PaddedStack
    names: tuple
    stacked: dict
    tolerances: dict
    on_kink: np.ndarray
    disagreement: np.ndarray


def _stacked_oracles(networks: list, memory: RunMemory) -> _StackedOracles:
    """The stack of `networks` and its oracle side, remembered by the run: formulas that share a setting
    are searched on the same drawn networks (search.drawn_networks), so the catalog meets each stack ~5
    times. Keyed by the networks' contents; its oracle answers, tolerances and per-network results are
    read-only from then on."""
    names = tuple(references.require())
    key = (names, tuple(net.fingerprint() for net in networks))
    found = memory.stacks.get(key)
    if found is not None:
        return found
    stack = PaddedStack.of(networks)
    stacked = {name: references._load(name).padded_quantities(stack) for name in names}
    parameters = tolerance.Parameters.of_padded(stack)
    forward = tolerance.forward_pass(parameters)  # one float64 forward pass for both the tolerances and the kinks
    tolerances = tolerance.tolerances(parameters, forward=forward)
    found = _StackedOracles(stack, names, shared(stacked), shared(tolerances),
                            shared(tolerance.on_a_kink(parameters, forward)),
                            shared(oracle_disagreements(stack, stacked, tolerances)))
    return memory.stacks.put(key, found)


def _check_stack(formula, networks: list, memory: RunMemory) -> list:
    """An Outcome for every network the stack settles (it holds), a _Pending for every other."""
    oracles = _stacked_oracles(networks, memory)
    stack, names, stacked, tolerances = oracles.stack, oracles.names, oracles.stacked, oracles.tolerances
    disagreement = oracles.disagreement
    oracles_fit = ~oracles.on_kink & (disagreement <= 1.0)
    screened, raised = oracles_fit.copy(), np.zeros(stack.count, bool)
    values, given = _formula_values(formula, stack, stacked[names[0]], screened, raised)
    worst, where, power = _formula_ratios(stack, values, given, stacked, tolerances)
    results = []
    for g, net in enumerate(stack.networks):
        if screened[g] and worst[g] <= 1.0:  # holds on every entry, against every oracle
            quantity = str(stack.of_network(g, Quantity.parse(where[g]))) if where[g] else ""
            results.append(Outcome(Verdict.HOLDS, float(worst[g]), "", net, "ok", quantity, None, float(disagreement[g]),
                                   detects=float(power[g])))
        elif oracles_fit[g]:  # a mismatch or the formula's own error: evaluate() says which and where,
            # with the oracles' and tolerances' stacked results
            answers = {name: NetworkView(stack, stacked[name], g) for name in names}
            judge = functools.partial(evaluate, formula, net, answers, ToleranceView(stack, tolerances, g),
                                      oracle_ratio=float(disagreement[g]))
            ratio = float(worst[g]) if screened[g] else float("inf")
            results.append(_Pending(functools.partial(_judged_again, formula, judge, ratio, bool(raised[g])),
                                    True, ratio, net))
        else:  # kink classification, the finite-difference tie-break: the single check
            results.append(_Pending(functools.partial(evaluate, formula, net, memory=memory), False, float("nan"), net))
    return results


def check_many(formula, networks, *, stop_at_failure: bool = False, judged: int | None = None,
               memory: RunMemory | None = None) -> list[Outcome]:
    """evaluate(formula, net) for every network, in order, with the oracles and tolerances batched.

    stop_at_failure: the list ends at the first failing network (in the given order): nothing after it
    is judged. judged: at most this many failing networks are judged by evaluate() (the first ones);
    a later one the stack knows fails gets a bare Outcome with the stack's ratio and no message (a
    search keeps only its first few failures; the others only count). memory: the run's (default: a
    fresh one)."""
    memory = memory if memory is not None else RunMemory()
    networks = list(networks)
    results: list = [None] * len(networks)
    groups: dict[str, list[int]] = {}
    # a local Jacobian is judged one network at a time (evaluate): the padded stacks' oracles return gradients only;
    # its oracles' Jacobians are computed for many networks at once first (jacobians.py), where evaluate reads them
    stacked = not formula.target.is_jacobian
    if not stacked:
        remember_jacobians(networks, memory)
    for i, net in enumerate(networks):
        if stacked and fits(net):
            groups.setdefault((str(net.dtype), net.eta is not None), []).append(i)  # a stack: all with a step or none
        else:
            results[i] = _Pending(functools.partial(evaluate, formula, net, memory=memory), False, float("nan"), net)
    for indices in groups.values():
        # similar networks side by side, so that each stack is padded little (a stack is as deep, wide and
        # long as its largest network)
        indices.sort(key=lambda i: (networks[i].depth, networks[i].batch, max(networks[i].widths)))
        for run in chunks(indices):
            for i, result in zip(run, _check_stack(formula, [networks[i] for i in run], memory)):
                results[i] = result
    outcomes, failures = [], 0
    for result in results:
        if isinstance(result, _Pending):
            if result.fails and judged is not None and failures >= judged:
                result = Outcome(Verdict.FAILS if np.isfinite(result.ratio) else Verdict.ERROR, result.ratio,
                                 "(not judged in detail)", result.network, "mismatch" if np.isfinite(result.ratio) else "error")
            else:
                result = result.judge()
        outcomes.append(result)
        if result.failed:
            failures += 1
            if stop_at_failure:
                break
    return outcomes
