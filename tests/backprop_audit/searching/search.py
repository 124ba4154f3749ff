"""Search: Hypothesis draws networks within a formula's setting until the formula fails, then shrinks.

The property is "the formula's value equals both oracles' within tolerance". Hypothesis runs it on
`examples` networks; on a failure it shrinks to the smallest network that still fails (fewest layers,
narrowest widths, smallest batch, simplest values) and replays that one last, so the exception we catch
carries the minimal counterexample. Failing outcomes met on the way are kept for the diagnosis.

It runs in two passes, because checking networks one at a time costs ~2 ms each in oracle and NumPy
overhead, and checking a stack of them at once (screen.py) costs a tenth of that:
1. Hypothesis draws the `examples` networks with the generate phase only and nothing checked; the
   screen checks them all (the same evaluate() verdict per network). If every one holds, that is the
   result. The first PROBE networks are drawn and checked first: most errata fail on one of them, and
   the rest need not be drawn (~1 ms a network). Hypothesis draws the same first networks whatever the
   number of examples asked for (a network is one choice, see strategies.py; tests/test_search.py).
2. Otherwise the property runs as described above, one network at a time, with the same seed: Hypothesis
   draws the same networks in the same order (its generation does not depend on the test's outcome
   until one fails), so it meets the same first failure, then shrinks it. Should it not meet it, the
   failure the screen found is reported as it was drawn, unshrunk, and says so.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from hypothesis import HealthCheck, Phase, given, seed as hypothesis_seed, settings

from backprop_audit.judging.evaluate import Outcome, evaluate
from backprop_audit.judging.memory import RunMemory
from backprop_audit.batching.screen import check_many
from backprop_audit.searching.strategies import in_dtype, networks
from backprop_audit.verdicts.vocabulary import Finding

KEEP_FAILURES = 12  # failing outcomes kept (besides the minimal one) for the diagnosis
PROBE = 8  # networks drawn and checked before the others


class Counterexample(AssertionError):
    """Raised inside the property; Hypothesis shrinks and re-raises the minimal one."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.message)
        self.outcome = outcome


@dataclass
class SearchResult:
    formula_id: str
    dtype: str
    examples: int = 0  # networks checked
    passed: int = 0
    ratios: list = field(default_factory=list)  # error/tol of every passing example (for the plots)
    worst_ratio: float = 0.0
    worst_oracle_ratio: float = 0.0
    detects: float = float("inf")  # the smallest relative error any passing example would detect (Outcome.detects)
    vacuous: int = 0  # passing examples that would pass zeros or ×2 too (Outcome.vacuous)
    oracle_notes: list = field(default_factory=list)
    minimal: Outcome | None = None  # the shrunk counterexample, None when the formula held
    failures: list = field(default_factory=list)  # other failing outcomes seen (diagnosis material)
    seconds: float = 0.0
    reproduce: str = ""

    @property
    def held(self) -> bool:
        return self.minimal is None

    @property
    def worst_error_ratio(self) -> float:
        """This dtype's worst error / tolerance with the meaning report.json gives it: the worst passing
        example where it held (≤ 1), else the worst failing one with a number (> 1; nan: none had one)."""
        if self.held:
            return self.worst_ratio
        failing = [self.minimal] + self.failures
        return max((o.ratio for o in failing if np.isfinite(o.ratio)), default=float("nan"))


def search(formula, *, setting=None, dtype="float64", examples: int = 100, seed: int = 0,
           shrink: bool = True, strategy=None, keep_going: bool = False,
           keep: int = KEEP_FAILURES, batched: bool = True, memory: RunMemory | None = None) -> SearchResult:
    """Run the Hypothesis search for `formula` in `dtype`; `setting` defaults to the formula's own.

    keep_going: do not stop at a failure, just collect up to `keep` failing outcomes (diagnosis material).
    batched: check the drawn networks as stacks first (see the module docstring); False checks each
    network as Hypothesis draws it, which is what the second pass always does.
    memory: the run's draws and oracle answers (default: a fresh one, for this search alone).
    """
    memory = memory if memory is not None else RunMemory()
    setting = setting or formula.setting
    result = SearchResult(formula.id, dtype)
    remembered = strategy is None  # the default strategy's first pass may come from drawn_networks
    strategy = strategy if strategy is not None else networks(setting, dtype=np.dtype(dtype), min_depth=formula.min_depth())
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if shrink else [])

    def record(outcome: Outcome):
        result.examples += 1
        result.worst_oracle_ratio = max(result.worst_oracle_ratio, outcome.oracle_ratio)
        if outcome.oracle_note and len(result.oracle_notes) < 5:
            result.oracle_notes.append(outcome.oracle_note)
        if outcome.failed:
            if len(result.failures) < keep:
                result.failures.append(outcome)
        else:
            result.passed += 1
            result.ratios.append(outcome.ratio)
            result.worst_ratio = max(result.worst_ratio, outcome.ratio)
            result.detects = min(result.detects, outcome.detects)
            result.vacuous += outcome.vacuous

    # Outcomes by network content. Hypothesis never repeats a choice sequence, but while shrinking it
    # tries many that decode to a network already checked: a byte of a layer the network does not have
    # (its scale, its decimals), a field read modulo its span (strategies._Layout). Seen: half of the
    # catalog's shrink steps.
    checked: dict[bytes, Outcome] = {}

    @hypothesis_seed(seed)
    @settings(max_examples=examples, database=None, deadline=None, phases=phases, report_multiple_bugs=False, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def property_holds(net):
        key = net.fingerprint()
        outcome = checked.get(key) or checked.setdefault(key, evaluate(formula, net, memory=memory))
        record(outcome)
        if outcome.failed and not keep_going:
            raise Counterexample(outcome)

    start = time.perf_counter()
    screened = None
    if batched:
        def drawn(count: int):
            cast = _first_pass(memory, setting, formula.min_depth(), str(np.dtype(dtype)), count, seed) if remembered else None
            return cast if cast is not None else draw(strategy, count, seed=seed)

        screened = _probe_then_rest(formula, drawn, examples, keep_going, keep, memory)
        if not keep_going:
            screened = _called_twice_where_it_holds(formula, screened, memory)
        first = next((i for i, outcome in enumerate(screened) if outcome.failed), None)
        if keep_going or first is None or not shrink or screened[first].kind == Finding.NONDETERMINISTIC:
            # a nondeterministic formula is not shrunk: Hypothesis would meet a failure that does not replay
            # without shrinking, the property pass would stop at this same first failure and keep it as is
            for outcome in screened if keep_going or first is None else screened[:first + 1]:
                record(outcome)
            if first is not None and not keep_going:
                result.minimal = screened[first]
            result.seconds = time.perf_counter() - start
            return result
    try:
        property_holds()
    except Counterexample as found:
        result.minimal = found.outcome
    if result.minimal is None and screened is not None:  # Hypothesis did not draw the same networks again
        first = next(outcome for outcome in screened if outcome.failed)
        first.message += " (found by the batched pass; Hypothesis did not draw it again, so it is not shrunk)"
        result.minimal = first
    result.seconds = time.perf_counter() - start
    return result


def _called_twice_where_it_holds(formula, screened: list, memory: RunMemory) -> list:
    """`screened`, with its worst passing network checked again calling the formula twice (a failing
    network always is, judging/evaluate.py): a formula that answers differently there is an error."""
    passing = [i for i, outcome in enumerate(screened) if not outcome.failed]
    if not passing:
        return screened
    worst = max(passing, key=lambda i: screened[i].ratio)
    again = evaluate(formula, screened[worst].network, memory=memory, repeat=True)
    return screened if again.kind != Finding.NONDETERMINISTIC else screened[:worst] + [again]


def _probe_then_rest(formula, drawn, examples: int, keep_going: bool, keep: int, memory: RunMemory) -> list:
    """check_many over drawn(examples), the first PROBE networks first: when one of them fails (and the
    search stops at a failure) the others are never drawn."""
    probe = min(PROBE, examples)
    if keep_going or probe == examples:
        return check_many(formula, drawn(examples), stop_at_failure=not keep_going, judged=keep, memory=memory)
    head = check_many(formula, drawn(probe), stop_at_failure=True, judged=keep, memory=memory)
    if any(outcome.failed for outcome in head):
        return head
    return head + check_many(formula, drawn(examples)[probe:], stop_at_failure=True, judged=keep, memory=memory)


def _first_pass(memory: RunMemory, setting, min_depth: int, dtype: str, examples: int, seed: int) -> tuple | None:
    """The default strategy's networks in `dtype` from the remembered float64 draw, or None when one of
    them is rejected in this dtype (then this dtype's strategy draws others: draw() must run it).
    Remembered too (a None as an empty tuple), so the cast and its fingerprints are made once a run."""
    key = (setting, min_depth, dtype, examples, seed)
    cast = memory.first_passes.get(key)
    if cast is None:
        cast = tuple(in_dtype(net, dtype) for net in drawn_networks(setting, min_depth, examples, seed, memory))
        cast = memory.first_passes.put(key, cast if all(net is not None for net in cast) else ())
    return cast or None


def drawn_networks(setting, min_depth: int, examples: int, seed: int, memory: RunMemory) -> tuple:
    """draw() of the float64 `networks` strategy, remembered by the run: many formulas share a setting
    (the catalog's 84 records have 16 (setting, depth) pairs), and the same seed gives the same networks,
    the first k of a longer draw being a draw of k. A Network is frozen and every View a formula gets
    holds copies of its arrays, so sharing them is safe."""
    key = (setting, min_depth, seed)
    longest = memory.draws.get(key) or ()
    if len(longest) < examples:
        longest = memory.draws.put(key, tuple(draw(networks(setting, dtype=np.float64, min_depth=min_depth), examples, seed=seed)))
    return longest[:examples]


def draw(strategy, examples: int, *, seed: int = 0) -> list:
    """The networks Hypothesis generates for `examples` examples with `seed`, in order, nothing checked:
    the same networks, in the same order, that the property-running pass meets before its first failure.

    Both passes are seeded explicitly: Hypothesis's `derandomize` seeds from a hash of the test
    function, which differs between the two (seen: the second pass then drew other networks)."""
    drawn = []

    @hypothesis_seed(seed)
    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(net):
        drawn.append(net)

    collect()
    return drawn
