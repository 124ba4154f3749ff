"""Search: Hypothesis draws networks within a formula's setting until the formula fails, then shrinks.

The property is "the formula's value equals both oracles' within tolerance". Hypothesis runs it on
`examples` networks; on a failure it shrinks to the smallest network that still fails (fewest layers,
narrowest widths, smallest batch, simplest values) and replays that one last, so the exception we catch
carries the minimal counterexample. Failing outcomes met on the way are kept for the diagnosis.

It runs in two passes, because checking networks one at a time costs ~2 ms each in oracle and NumPy
overhead, and checking a stack of them at once (screen.py) costs a tenth of that:
1. Hypothesis generates the `examples` networks in the generate phase, nothing checked, many to an example
   (draw_networks: its own cost per example was most of a network's); the screen checks them all (the same
   evaluate() verdict per network). If every one holds, that is the result. The first PROBE networks are
   checked first: most errata fail on one of them, and the rest need not be checked. Hypothesis draws the
   same first networks whatever the number of examples asked for (tests/test_search.py).
2. Otherwise the property runs as described above, one network at a time, starting from the first failing
   network: its choice (the strategy's one byte string, see strategies.py) is first made smaller by the
   moves that matter most (pre_shrunk: a hidden layer dropped, a byte set to 0), then Hypothesis's reuse
   phase replays it from a database holding only it (_Replay), and the shrink phase shrinks it. Should it not fail again, the
   failure the screen found is reported as it was drawn, unshrunk, and says so.
A given strategy (not the default one) is drawn one network to an example, and its property pass draws the
same networks in the same order (its generation does not depend on the test's outcome until one fails).
"""
from __future__ import annotations

import time
import unittest
from dataclasses import dataclass, field

import numpy as np
from hypothesis import HealthCheck, Phase, given, seed as hypothesis_seed, settings
from hypothesis.database import ExampleDatabase, choices_to_bytes

from backprop_audit.judging.evaluate import Outcome, evaluate
from backprop_audit.judging.memory import RunMemory
from backprop_audit.batching.screen import check_many
from backprop_audit.searching.strategies import _blobs, in_dtype, network_from_choice, network_layout, networks
from backprop_audit.verdicts.vocabulary import Finding

KEEP_FAILURES = 12  # failing outcomes kept (besides the minimal one) for the diagnosis
PROBE = 8  # networks drawn and checked before the others
# Networks per Hypothesis example in the first pass (draw_networks): Hypothesis's own cost is ~0.5 ms an example
# here (seeding and restoring the global PRNGs, a proxy of the test function, its bookkeeping), ~0.03 ms a network
# when one example's byte string holds 16 of them (measured: 0.47 against 0.023-0.043 ms a network at 10-25).
NETWORKS_PER_EXAMPLE = 16


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
    batched: check the drawn networks as stacks first (see the module docstring); False checks them one at
    a time (evaluate), as the property pass does; a given `strategy` is then drawn by the property pass alone.
    memory: the run's draws and oracle answers (default: a fresh one, for this search alone).
    """
    memory = memory if memory is not None else RunMemory()
    setting = setting or formula.setting
    result = SearchResult(formula.id, dtype)
    default = strategy is None  # the default strategy's networks are drawn many to an example (draw_networks)
    strategy = strategy if strategy is not None else networks(setting, dtype=np.dtype(dtype), min_depth=formula.min_depth())

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

    def outcome_of(net) -> Outcome:
        key = net.fingerprint()
        return checked.get(key) or checked.setdefault(key, evaluate(formula, net, memory=memory))

    def property_pass(phases, database=None):
        @hypothesis_seed(seed)
        @settings(max_examples=examples, database=database, deadline=None, phases=phases, report_multiple_bugs=False,
                  print_blob=False, suppress_health_check=list(HealthCheck))
        @given(strategy)
        def property_holds(net):
            outcome = outcome_of(net)
            record(outcome)
            if outcome.failed and not keep_going:
                raise Counterexample(outcome)

        if database is not None:
            # Hypothesis's @seed sets the test's database to None, and with --hypothesis-seed (its pytest plugin's
            # forced seed) it reads none unless the test names its key: the replay sets both on the decorated test
            # (Hypothesis's own attributes; should they change, the replay runs nothing and the failure is
            # reported unshrunk, which tests/test_search.py catches)
            property_holds._hypothesis_internal_use_settings = settings(
                property_holds._hypothesis_internal_use_settings, database=database)
            property_holds._hypothesis_internal_database_key = b"backprop-audit-replay"
        try:
            property_holds()
        except Counterexample as found:
            return found.outcome
        except unittest.SkipTest:  # Hypothesis ran nothing: the replay found no entry
            return None
        return None

    start = time.perf_counter()
    if not default and not batched:  # a given strategy, one network at a time: Hypothesis draws and shrinks
        result.minimal = property_pass([Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if shrink else []))
        result.seconds = time.perf_counter() - start
        return result
    choices: list = []  # the default strategy's choice (byte string) of each network drawn, in order

    def drawn(count: int):
        if not default:
            return draw(strategy, count, seed=seed)
        nets, blobs = first_pass(memory, setting, formula.min_depth(), str(np.dtype(dtype)), count, seed)
        choices[:] = max(choices, blobs, key=len)  # a draw of k is the first k of a longer one
        return nets

    if batched:
        screened = _probe_then_rest(formula, drawn, examples, keep_going, keep, memory)
    else:
        screened = _one_at_a_time(formula, drawn(examples), keep_going, memory)
    if not keep_going:
        screened = _called_twice_where_it_holds(formula, screened, memory)
    first = next((i for i, outcome in enumerate(screened) if outcome.failed), None)
    if keep_going or first is None or not shrink or screened[first].kind == Finding.NONDETERMINISTIC:
        # a nondeterministic formula is not shrunk: Hypothesis would meet a failure that does not replay
        for outcome in screened if keep_going or first is None else screened[:first + 1]:
            record(outcome)
        if first is not None and not keep_going:
            result.minimal = screened[first]
        result.seconds = time.perf_counter() - start
        return result
    failing = screened[first]
    for outcome in screened[:first]:  # the networks that held before it, as the property pass would have met them
        record(outcome)
    if default:  # screened[i] is the outcome of the i-th network drawn
        # The property pass starts from the failing network (Hypothesis's reuse phase replays its choice as if
        # from a database) and shrinks it; its outcome is known already.
        checked[failing.network.fingerprint()] = failing
        layout, as_dtype = network_layout(setting, formula.min_depth()), np.dtype(dtype)

        def still_fails(blob: bytes) -> bool:  # the property's check, outside Hypothesis (see pre_shrunk)
            net = network_from_choice(layout, blob, as_dtype)
            if net is None:
                return False
            outcome = outcome_of(net)
            record(outcome)
            return outcome.failed

        start_from = pre_shrunk(choices[first], layout, still_fails)
        result.minimal = property_pass([Phase.reuse, Phase.shrink], _Replay(choices_to_bytes([start_from])))
    else:  # a given strategy: Hypothesis draws the same networks in the same order (one an example), meets it again
        result.examples = 0
        result.passed, result.ratios, result.worst_ratio, result.failures = 0, [], 0.0, []
        result.minimal = property_pass([Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])
    if result.minimal is None:  # Hypothesis did not meet it again
        failing.message += " (found by the first pass; Hypothesis did not meet it again, so it is not shrunk)"
        result.minimal = failing
    result.seconds = time.perf_counter() - start
    return result


def pre_shrunk(blob: bytes, layout, fails) -> bytes:
    """The failing network's byte string made smaller by the moves that matter most, before Hypothesis shrinks it:
    drop the last hidden layer (the output's width kept), and set a byte to 0 (each in turn, left to right: the
    depth, the widths, the batch, ... the seed; _Layout), each kept where the network still `fails`; repeated
    until no move is kept.

    Why: Hypothesis reaches the same minimal networks, but through ~2.7 times as many calls (each ~0.5 ms of its
    own bookkeeping, and a check for each new network). Over the catalog's 32 records that do not hold and the
    95 mutants (float64): 2,255 calls -> 820, every diagnosis the same, and every minimal network as small (one
    [1, 2] batch 1 became [1, 1] batch 2, which Hypothesis's order ranks smaller). Without the layer move, one
    byte at a time left two of them a layer deeper ([1, 1, 1, 2] for [1, 1, 2]: the failure needs the output
    width 2, which dropping the depth alone would have taken away), and Hypothesis, from there, did not find
    the way back either."""
    blob = bytearray(blob)
    changed = True
    while changed:
        changed = False
        shallower = _shallower(layout, blob)
        while shallower is not None and fails(bytes(shallower)):
            blob, changed = shallower, True
            shallower = _shallower(layout, blob)
        for i in range(len(blob)):
            if blob[i]:
                trial = bytearray(blob)
                trial[i] = 0
                if fails(bytes(trial)):
                    blob, changed = trial, True
    return bytes(blob)


def _shallower(layout, blob: bytearray) -> bytearray | None:
    """`blob` with the network's last hidden layer dropped and the output's width kept (the width field of the
    output moved one place down); None at the setting's least depth, or where the layout has no such fields
    (one width for every layer; a depth field of more than one byte)."""
    offset = layout.depth.read(bytes(blob))
    if offset == 0 or layout.depth.width != 1 or len(layout.widths) == 1:
        return None
    depth = layout.depths[0] + offset  # width fields 0..depth are read, the output's is the last
    output, below = layout.widths[depth], layout.widths[depth - 1]
    trial = bytearray(blob)
    trial[layout.depth.start] = offset - 1
    trial[below.start:below.start + below.width] = blob[output.start:output.start + output.width]
    return trial


class _Replay(ExampleDatabase):
    """A database holding one entry: the choice of the network the property pass starts from, in the test's
    secondary corpus ("a failure not yet shrunk": Hypothesis replays it, then shrinks it; one in the primary
    corpus it takes as already shrunk, and stops). What Hypothesis writes while shrinking is not kept (the
    search keeps its own records)."""

    def __init__(self, entry: bytes):
        super().__init__()
        self.entry = entry

    def fetch(self, key: bytes):
        return [self.entry] if key.endswith(b".secondary") else []

    def save(self, key: bytes, value: bytes) -> None:
        pass

    def delete(self, key: bytes, value: bytes) -> None:
        pass


def _one_at_a_time(formula, nets, keep_going: bool, memory: RunMemory) -> list:
    """evaluate() of each network in order, up to the first failure unless keep_going (the batched pass's
    outcomes, computed as the property pass computes them)."""
    outcomes = []
    for net in nets:
        outcomes.append(evaluate(formula, net, memory=memory))
        if outcomes[-1].failed and not keep_going:
            break
    return outcomes


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


def first_pass(memory: RunMemory, setting, min_depth: int, dtype: str, examples: int, seed: int) -> tuple:
    """(networks, their choices): the default strategy's first `examples` networks in `dtype`, the remembered
    float64 draw cast where every one of them casts, else this dtype's own draw (draw_networks, which skips a
    network the cast rejects). Remembered too, so the cast and its fingerprints are made once a run."""
    key = (setting, min_depth, dtype, examples, seed)
    found = memory.first_passes.get(key)
    if found is None:
        nets, blobs = drawn_networks(setting, min_depth, examples, seed, memory)
        cast = tuple(in_dtype(net, dtype) for net in nets)
        if any(net is None for net in cast):
            cast, blobs = draw_networks(setting, min_depth, examples, seed, dtype)
        found = memory.first_passes.put(key, (tuple(cast), tuple(blobs)))
    return found


def drawn_networks(setting, min_depth: int, examples: int, seed: int, memory: RunMemory) -> tuple:
    """draw_networks in float64, remembered by the run: many formulas share a setting (the catalog's 84
    records had 16 (setting, depth) pairs), and the same seed gives the same networks, the first k of a
    longer draw being a draw of k. A Network is frozen and every View a formula gets holds copies of its
    arrays, so sharing them is safe."""
    key = (setting, min_depth, seed)
    longest = memory.draws.get(key) or ((), ())
    if len(longest[0]) < examples:
        longest = memory.draws.put(key, tuple(map(tuple, draw_networks(setting, min_depth, examples, seed))))
    return longest[0][:examples], longest[1][:examples]


def draw_networks(setting, min_depth: int, count: int, seed: int, dtype=np.float64) -> tuple[list, list]:
    """(networks, choices): the first `count` distinct networks of the default strategy (`networks(setting,
    dtype=dtype, min_depth=min_depth)`) in the byte strings Hypothesis generates with `seed`, and the byte
    string (the strategy's one choice) of each.

    Hypothesis generates NETWORKS_PER_EXAMPLE networks' byte strings in one example (one choice of that many
    times the length), in the generate phase, nothing checked; each is decoded as the strategy decodes its
    choice (strategies.network_from_choice). Its first example is the simplest, all zero bytes: the first
    network is the smallest one, as the strategy's first example is. A byte string met before, or one the
    strategy rejects, is skipped. Hypothesis's examples do not depend on how many are asked for, so a draw
    of k is the first k of a longer one (tests/test_search.py)."""
    layout = network_layout(setting, min_depth)
    size, per = layout.size, NETWORKS_PER_EXAMPLE
    nets, blobs, seen, used = [], [], set(), 0
    wanted = -(-count // per) + 1
    while len(nets) < count:
        examples = _generated(size * per, wanted, seed)
        for example in examples[used:]:
            for blob in (example[i * size:(i + 1) * size] for i in range(per)):
                if blob in seen:
                    continue
                seen.add(blob)
                net = network_from_choice(layout, blob, dtype)
                if net is not None:
                    nets.append(net)
                    blobs.append(blob)
                if len(nets) == count:
                    return nets, blobs
        if len(examples) == used:  # Hypothesis generated nothing new: nothing more to draw
            break
        used, wanted = len(examples), 2 * wanted
    return nets, blobs


def _generated(size: int, examples: int, seed: int) -> list[bytes]:
    """The byte strings of `size` bytes Hypothesis generates for `examples` examples with `seed`, in order."""
    return draw(_blobs(size), examples, seed=seed)


def draw(strategy, examples: int, *, seed: int = 0) -> list:
    """The values Hypothesis generates of `strategy` for `examples` examples with `seed`, in order, nothing
    checked: the same values, in the same order, that a property-running pass with that seed meets before
    its first failure (a given strategy's first pass; see search).

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
