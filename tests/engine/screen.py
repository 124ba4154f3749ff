"""Check one formula on many networks: the oracles and the tolerance model run once per padded stack of
networks (padded.py), and every network is then judged by the same evaluate() as a single check.

Per network, evaluate() would pay ~0.6 ms for torch's autograd graph, ~0.6 ms for a jax dispatch and
~0.4 ms of NumPy calls for the tolerances and the kink test, almost all of it overhead that does not
depend on the network's size. Here those run on CHUNK networks at a time:

1. networks that fit are grouped by dtype, ordered by size and stacked CHUNK at a time; each oracle computes
   every quantity of the stack in one call (torch_autograd.padded_quantities, jax_grad.padded_quantities),
   the tolerance model in one NumPy pass (padded_tolerance.padded_tolerances), the ReLU-kink test too;
2. torch and jax are compared with each other on the whole stack at once, entry by entry, within the
   same tolerance as evaluate.oracle_disagreement;
3. each network is judged by evaluate(formula, net, answers, tolerances, oracle_ratio=...) with its own
   slices of those results (read lazily, only the quantities the formula claims) — the same comparison,
   messages and Outcome as a single check;
4. a network on a ReLU kink, or where torch and jax disagree or return a non-finite value, or that does
   not fit the stack, is checked by plain evaluate(net): kink classification and the finite-difference
   tie-break stay in one place.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from backprop_audit import references
from .evaluate import Outcome, evaluate
from .padded import NetworkView, PaddedStack, chunks, fits
from .padded_tolerance import padded_forward, padded_kinks, padded_tolerances
from .tolerance import tolerance_for


class ToleranceView(Mapping):
    """One network's {quantity: (SAFETY·ε·K, B, 1 + Z, τ/ε)} read out of stacked tolerances."""

    def __init__(self, stack: PaddedStack, stacked: dict, g: int):
        self.stack, self.g = stack, g
        self.B = NetworkView(stack, {q: value[1] for q, value in stacked.items()}, g)
        self.stacked = stacked

    def __getitem__(self, quantity: str):
        stack_name = "C" if quantity == "C" else _stack_name(self.stack, self.g, quantity)
        coefficient, _, amplification, floor = self.stacked[stack_name]
        return coefficient[self.g], self.B[quantity], amplification[self.g], floor

    def __iter__(self):
        return iter(self.B)

    def __len__(self):
        return len(self.B)


def _stack_name(stack: PaddedStack, g: int, quantity: str) -> str:
    kind, layer = quantity[:-1].split("[")
    return f"{kind}[{int(layer) + int(stack.prepend[g])}]"


def oracle_disagreements(stack: PaddedStack, answers: dict, tolerances: dict) -> np.ndarray:
    """Per slot, the worst |torch - jax| / tol over every real entry of every quantity (inf where either
    oracle returned a non-finite value: such a network is left to the single check)."""
    worst = np.zeros(stack.count)
    if len(answers) < 2:
        return worst
    first, second = list(answers.values())[:2]
    for name, value in first.items():
        coefficient, B, amplification, floor = tolerances[name]
        expand = (stack.count,) + (1,) * (value.ndim - 1)
        scale = (coefficient.reshape(expand), B, amplification.reshape(expand), floor)
        tol = tolerance_for(scale, value)
        other = second[name]
        diff = np.abs(value.astype(np.float64) - other.astype(np.float64))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(diff == 0, 0.0, diff / tol)
        finite = np.isfinite(value) & np.isfinite(other)
        ratio = np.where(finite, ratio, np.inf)
        ratio = np.where(stack.real_mask(name), ratio, 0.0)
        worst = np.maximum(worst, ratio.reshape(stack.count, -1).max(axis=1) if ratio.ndim > 1 else ratio)
    return worst


def _check_stack(formula, stack: PaddedStack) -> list[Outcome]:
    names = references.require()
    stacked = {name: references._load(name).padded_quantities(stack) for name in names}
    forward = padded_forward(stack)  # one float64 forward pass for both the tolerances and the kinks
    tolerances = padded_tolerances(stack, forward)
    on_kink = padded_kinks(stack, forward)
    disagreement = oracle_disagreements(stack, stacked, tolerances)
    outcomes = []
    for g, net in enumerate(stack.networks):
        if on_kink[g] or not disagreement[g] <= 1.0:
            outcomes.append(evaluate(formula, net))  # kink classification, finite-difference tie-break
            continue
        answers = {name: NetworkView(stack, stacked[name], g) for name in names}
        outcomes.append(evaluate(formula, net, answers, ToleranceView(stack, tolerances, g),
                                 oracle_ratio=float(disagreement[g])))
    return outcomes


def check_many(formula, networks) -> list[Outcome]:
    """evaluate(formula, net) for every network, in order, with the oracles and tolerances batched."""
    networks = list(networks)
    outcomes: list[Outcome | None] = [None] * len(networks)
    groups: dict[str, list[int]] = {}
    for i, net in enumerate(networks):
        if fits(net):
            groups.setdefault(str(net.dtype), []).append(i)
        else:
            outcomes[i] = evaluate(formula, net)
    for indices in groups.values():
        # similar networks side by side, so that each stack is padded little (a stack is as deep, wide and
        # long as its largest network)
        indices.sort(key=lambda i: (networks[i].depth, networks[i].batch, max(networks[i].widths)))
        for run in chunks(indices):
            for i, outcome in zip(run, _check_stack(formula, PaddedStack.of(networks[i] for i in run))):
                outcomes[i] = outcome
    return outcomes
