"""The soak: many checks of formulas known to be correct, on networks built to stress the tolerances.

A false alarm is a correct formula judged wrong. To show there are none, the soak checks correct
formulas - general backpropagation written out for every activation and loss, in both conventions, and
every catalog record expected to hold, in its own setting - on networks drawn with NumPy's generator
(fast, not shrinking: nothing is expected to fail) in float64 and float32, with:
- ordinary networks (widths 1-8, batch 1-8, weights of scale 1/4 to 4), most of the checks;
- saturated sigmoids and tanh (|z| > 30), softmax logits up to ±80;
- tiny (1e-6) and huge (1e4 in float32, 1e6 in float64) input and weight scales;
- output logits past ±88 (float32 exp overflows there), and sigmoid units whose float32 σ'(z) is subnormal;
- a few large networks: widths up to 512, batch up to 256;
- medium networks (widths 32-64, batch 64-256) in each value regime above but "subnormal": their sums are
  long enough (>= 128 terms) to be judged with the measured count (judging/reference.py).
Values are continuous (no rounding), so ReLU pre-activations are never exactly 0; evaluate() would
classify a kink anyway. A network whose oracle values overflow is skipped and counted, never checked.

One check = one formula evaluated on one network (all its layers, every entry, both oracles). The
oracles run once per network and their answers and the tolerances are shared by the formulas checked
on it. Each check's worst error / tolerance is kept: the largest is the soak's worst_correct_ratio.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from backprop_audit import Formula, Setting, Source, references
from backprop_audit.judging import tolerance
from backprop_audit.judging.evaluate import evaluate, judged_network
from backprop_audit.judging.memory import RunMemory
from backprop_audit.model import operations
from backprop_audit.model.network import Layer, Network
from backprop_audit.model.quantity import Quantity
from backprop_audit.searching.strategies import compatible_targets
from backprop_audit.trust import backprop

SOURCE = Source("soak", "backprop_audit/trust/backprop.py", "general backpropagation, written out once more")


def _correct(id_, quantity, compute, convention="row", setting=Setting()):
    return Formula(id=id_, title=id_, source=SOURCE, written="-", convention=convention, quantity=quantity,
                   setting=setting, compute=compute)


CORRECT = [
    _correct("correct-C", "C", backprop.loss_value),
    _correct("correct-da-row", "dC/da[l]", backprop.activation_gradient),
    _correct("correct-delta-row", "dC/dz[l]", lambda n, l: backprop.deltas(n)[l]),
    _correct("correct-dW-row", "dC/dW[l]", lambda n, l: n.a[l - 1].T @ backprop.deltas(n)[l]),
    _correct("correct-db-row", "dC/db[l]", lambda n, l: backprop.deltas(n)[l].sum(axis=0)),
    _correct("correct-delta-column", "dC/dz[l]", lambda n, l: backprop.column_deltas(n)[l], "column"),
    _correct("correct-dW-column", "dC/dW[l]", lambda n, l: backprop.column_deltas(n)[l] @ n.a[l - 1].T, "column"),
    _correct("correct-db-column", "dC/db[l]", lambda n, l: backprop.column_deltas(n)[l].sum(axis=1, keepdims=True),
             "column"),
]


# With the L2 term and a gradient step (model/regularizers.py, the step quantities W'[l], b'[l]): weight decay
# dC/dW = a[l-1]ᵀδ + λW and W - η·dC/dW, on networks with λ and η drawn over wide ranges (η up to 2^20, where
# a read-back (W - W')/η failed: the step must be judged on |W| + η|g|, see judging/tolerance.py)
REGULARIZED_STEP = Setting(width=(1, 512), batch=(1, 256), l2=(0.0, 4.0), eta=(1e-3, 2.0 ** 20))


def _regularized_dW(n, l):
    return n.a[l - 1].T @ backprop.deltas(n)[l] + n.l2 * n.W[l]


CORRECT_STEP = [
    _correct("correct-C-l2", "C", lambda n: backprop.loss_value(n) + 0.5 * n.l2 * sum(
        float((W * W).sum()) for W in n.W[1:]), setting=REGULARIZED_STEP),
    _correct("correct-dW-l2-row", "dC/dW[l]", _regularized_dW, setting=REGULARIZED_STEP),
    _correct("correct-step-W-row", "W'[l]", lambda n, l: n.W[l] - n.eta * _regularized_dW(n, l), setting=REGULARIZED_STEP),
    _correct("correct-step-b-column", "b'[l]", lambda n, l: n.b[l] - n.eta * backprop.column_deltas(n)[l].sum(
        axis=1, keepdims=True), "column", REGULARIZED_STEP),
]


# The local Jacobians (model/quantity.py), on every row of the table (softmax's coupled Jacobian included); judged
# against the oracles' Jacobians (references.jacobians), one network at a time. Not on the "large" and "-medium"
# regimes: the W Jacobians' full per-sample (out, out, in) is what jax.jacobian and torch's jacrev form before the
# reduced layout is read off (a [64, 64]/256 layer: 67M entries), and a Jacobian's tolerance has no long sum for
# the measured count to be about.
CORRECT_JACOBIANS = [
    _correct("correct-jacobian-activation", "da[l]/dz[l]", backprop.activation_jacobian),
    _correct("correct-jacobian-linear-input", "dz[l]/da[l-1]", lambda n, l: np.broadcast_to(n.W[l].T, (n.N,) + n.W[l].T.shape)),
    _correct("correct-jacobian-layer", "da[l+1]/da[l]", backprop.layer_jacobian),
    _correct("correct-jacobian-linear-weight", "dz[l]/dW[l]", backprop.weight_jacobian),
    _correct("correct-jacobian-layer-weight", "da[l]/dW[l]", backprop.layer_weight_jacobian),
]
JACOBIAN_REGIMES = ("ordinary", "saturated", "logits", "tiny", "huge", "overflow", "subnormal")


# ---- networks ---------------------------------------------------------------------------------------

# The general formulas are soaked on every row of the operation table, not only the default draws.
EVERY_ROW = Setting(width=(1, 512), batch=(1, 256), hidden=operations.HIDDEN_ACTIVATIONS,
                    output=operations.OUTPUT_ACTIVATIONS, loss=operations.LOSSES, targets=operations.TARGET_KINDS)

@dataclass(frozen=True)
class Regime:
    """How one soak network is drawn: its name, and the scales of weights, biases and inputs."""

    name: str
    weight: tuple  # (low, high) of the log10 scale, per dtype below
    inputs: tuple
    width: tuple = (1, 8)
    batch: tuple = (1, 8)
    last_weight: tuple | None = None  # the output layer's scale, when it differs (large logits)

    @property
    def fan_in_scaled(self) -> bool:
        """Whether weights are divided by √fan-in (wide networks: "large" and the "-medium" regimes)."""
        return self.name == "large" or self.name.endswith("-medium")


REGIMES = {
    "ordinary": Regime("ordinary", (-0.6, 0.6), (-0.6, 0.6)),
    "saturated": Regime("saturated", (1.0, 1.6), (0.3, 0.7)),  # |z| ~ 30-200: sigmoid/tanh saturate
    "logits": Regime("logits", (-0.3, 0.3), (-0.3, 0.3), last_weight=(1.2, 1.5)),  # output z up to ±80
    "tiny": Regime("tiny", (-6.0, -5.0), (-6.0, -5.0)),
    "huge": Regime("huge", (0.0, 1.0), (4.0, 6.0)),  # float32 is capped at 1e4 inputs (see draw_network)
    # float32 logits past 88, where exp overflows unless the softmax shifts by its max (and sigmoid's e^-z does)
    "overflow": Regime("overflow", (-0.3, 0.3), (-0.3, 0.3), last_weight=(1.8, 2.1)),
    # z of a few terms of ~100: many sigmoid units in -103 < z < -87, where float32 σ'(z) is subnormal (XLA
    # flushes it to 0, torch keeps it) and is multiplied by a large dC/da
    "subnormal": Regime("subnormal", (1.5, 1.7), (0.2, 0.3), width=(1, 3)),
    "large": Regime("large", (-0.6, 0.0), (-0.3, 0.3), width=(64, 512), batch=(16, 256)),
}
# Networks with long sums (Σ widths + N >= 128 at every depth), which are judged with the measured count
# (tolerance.is_measured, judging/reference.py), in the value regimes where rounding is worst; their
# weights are divided by √fan-in (as "large"), so their pre-activations are of the small regimes' sizes.
MEDIUM = dict(width=(32, 64), batch=(64, 256))
REGIMES.update({f"{name}-medium": Regime(f"{name}-medium", REGIMES[name].weight, REGIMES[name].inputs,
                                         last_weight=REGIMES[name].last_weight, **MEDIUM)
                for name in ("ordinary", "saturated", "logits", "tiny", "huge", "overflow")})


def draw_network(rng: np.random.Generator, regime: Regime, dtype, setting: Setting = Setting()) -> Network:
    """One network within `setting` in `regime`, values continuous (never on a ReLU kink)."""
    lo_w, hi_w = max(regime.width[0], setting.width[0]), min(regime.width[1], setting.width[1])
    lo_n, hi_n = max(regime.batch[0], setting.batch[0]), min(regime.batch[1], setting.batch[1])
    lo_w, lo_n = min(lo_w, hi_w), min(lo_n, hi_n)
    deepest = 2 if regime.name == "large" else 3 if regime.fan_in_scaled else 4
    depth = int(rng.integers(setting.depth[0], min(setting.depth[1], deepest) + 1))
    widths = [int(rng.integers(lo_w, hi_w + 1))] * (depth + 1) if setting.square else \
        [int(rng.integers(lo_w, hi_w + 1)) for _ in range(depth + 1)]
    if regime.name == "large" and setting.width[1] >= 64:
        widths[-1] = int(rng.integers(1, 11))  # a wide network with a classifier-sized output
    for end, pair in ((0, setting.input_width), (-1, setting.output_width)):
        if pair is not None:  # the setting's own input or output width (drawn only when it has one)
            widths[end] = int(rng.integers(pair[0], pair[1] + 1))
    batch = int(rng.integers(lo_n, hi_n + 1))
    pairs = [(loss, out) for loss in setting.loss for out in setting.output if operations.fits(loss, out)]
    loss, output = pairs[int(rng.integers(len(pairs)))]
    hidden = [setting.hidden[int(rng.integers(len(setting.hidden)))] for _ in range(depth - 1)]
    kinds = compatible_targets(loss, setting.targets, setting.loss)
    kind = kinds[int(rng.integers(len(kinds)))]
    cap = 4.0 if np.dtype(dtype) == np.float32 else 6.0  # float32: (1e4·W)² summed stays far from 3e38

    def scaled(shape, span, fan_in=1):
        exponent = min(rng.uniform(*span), cap)
        return rng.uniform(-1, 1, size=shape) * 10 ** exponent / (np.sqrt(fan_in) if regime.fan_in_scaled else 1)

    layers = []
    for l, act in enumerate(hidden + [output], start=1):
        span = regime.last_weight if (regime.last_weight and l == depth) else regime.weight
        layers.append(Layer(scaled((widths[l], widths[l - 1]), span, widths[l - 1]).astype(dtype),
                            scaled((widths[l],), span).astype(dtype), act))
    X = scaled((batch, widths[0]), regime.inputs).astype(dtype)
    Y = _targets(rng, kind, (batch, widths[-1])).astype(dtype)
    # λ and η only when the setting has them; log-uniform over a range that starts above 0 (η from 1e-3 to 2^20)
    rates = {name: float(np.exp(rng.uniform(np.log(pair[0]), np.log(pair[1]))) if pair[0] > 0 else rng.uniform(*pair))
             for name, pair in (("l2", setting.l2), ("eta", setting.eta)) if pair is not None}
    if setting.batchnorm or setting.dropout is not None:
        return _with_special_layers(rng, setting, Network(tuple(layers), loss, X, Y, kind, **rates))
    return Network(tuple(layers), loss, X, Y, kind, **rates)


def _with_special_layers(rng, setting: Setting, net: Network) -> Network:
    """The soak's network with batch normalization (γ near 1, β small; one network in three has a near-constant
    batch, var ≈ 0, where ε dominates) and dropout (p in the setting's range, a fixed mask) as its setting asks."""
    from backprop_audit.model.network import Layer
    dtype, N = net.dtype, net.batch
    p = None if setting.dropout is None else float(rng.uniform(*setting.dropout))
    X = net.X
    if setting.batchnorm and N > 1 and rng.random() < 1 / 3:
        X = (X[:1] + 1e-6 * rng.uniform(-1, 1, X.shape)).astype(dtype)
    layers = []
    for l, layer in enumerate(net.layers, start=1):
        hidden, n = l < net.depth, layer.W.shape[0]
        gamma = (1 + 0.5 * rng.uniform(-1, 1, n)).astype(dtype) if hidden and setting.batchnorm else None
        beta = (0.5 * rng.uniform(-1, 1, n)).astype(dtype) if hidden and setting.batchnorm else None
        mask = (rng.random((N, n)) >= p).astype(dtype) if hidden and p is not None else None
        layers.append(Layer(layer.W, layer.b, layer.activation, gamma, beta, mask))
    return Network(tuple(layers), net.loss, X, net.Y, net.targets, l2=net.l2, eta=net.eta, dropout=p)


def _targets(rng, kind, shape):
    if kind == "real":
        return rng.uniform(-1.5, 1.5, size=shape)
    if kind in ("onehot", "labels"):
        return np.eye(shape[1])[rng.integers(0, shape[1], size=shape[0])]
    if kind == "prob":
        y = rng.uniform(0.05, 1, size=shape)
        return y / y.sum(axis=1, keepdims=True)
    return rng.integers(0, 2, size=shape).astype(float)


# ---- the run ----------------------------------------------------------------------------------------

@dataclass
class SoakResult:
    checks: int = 0
    networks: int = 0
    skipped_networks: int = 0  # oracle values not finite (overflow): not checked
    false_alarms: list = field(default_factory=list)  # (formula id, regime, message) of every failure
    worst_ratio: float = 0.0
    worst: str = ""  # which formula, regime and network gave the worst ratio
    by_dtype: dict = field(default_factory=dict)  # dtype -> checks
    by_regime: dict = field(default_factory=dict)  # regime -> checks
    measured: int = 0  # networks judged with the measured count (tolerance.is_measured)
    kinks: int = 0  # checks classified "kink" (a disagreement confined to entries that depend on relu'(0))
    jacobian_checks: int = 0  # checks of local Jacobians (CORRECT_JACOBIANS and the catalog's Jacobian records)
    unbounded: dict = field(default_factory=dict)  # quantity kind -> entries whose tolerance overflowed to inf
    oracle_notes: list = field(default_factory=list)
    seconds: float = 0.0
    by_seed: dict = field(default_factory=dict)  # seed -> {checks, false_alarms, worst_correct_ratio} (soak_seeds)

    def summary(self) -> dict:
        return {"soak_checks": self.checks, "soak_networks": self.networks,
                "soak_skipped_networks": self.skipped_networks, "soak_false_alarms": len(self.false_alarms),
                "soak_false_alarm_examples": [list(f) for f in self.false_alarms[:10]],
                "worst_correct_ratio": self.worst_ratio, "worst_correct": self.worst,
                "soak_checks_by_dtype": self.by_dtype, "soak_checks_by_regime": self.by_regime,
                "soak_kinks": self.kinks, "soak_jacobian_checks": self.jacobian_checks, "soak_measured_networks": self.measured, "soak_entries_with_infinite_tolerance": self.unbounded, "soak_oracle_notes": self.oracle_notes[:10],
                "soak_seconds": round(self.seconds, 1),
                "soak_by_seed": {str(seed): numbers for seed, numbers in self.by_seed.items()}}


def _holds_in_catalog():
    from backprop_audit.manual import catalog

    return [f for f in catalog() if f.expected == "holds"]


def schedule():
    """[(regime, "catalog" or None)]: the mix of networks, cycled until the checks are done; None means
    the general correct formulas (8 checks per network), "catalog" each catalog record in its setting,
    "step" the L2 and gradient-step formulas (CORRECT_STEP, 4 checks per network), "jacobian" the local Jacobians
    (CORRECT_JACOBIANS, 5 checks per network)."""
    return [("ordinary", None)] * 10 + [("saturated", None)] * 3 + [("logits", None)] * 3 + \
        [("tiny", None)] * 2 + [("huge", None)] * 2 + [("overflow", None)] * 2 + [("subnormal", None)] * 2 + \
        [(name, "catalog") for name in ("ordinary", "saturated", "logits", "tiny", "huge", "overflow", "subnormal")] + \
        [(name, None) for name in REGIMES if name.endswith("-medium")] + \
        [(name, "step") for name in ("ordinary", "saturated", "tiny", "huge", "overflow")] + \
        [(name, "jacobian") for name in JACOBIAN_REGIMES] + [("ordinary", "jacobian")] * 3


def soak(checks: int = 100_000, *, seed: int = 0, large: int = 16, progress=None,
         result: SoakResult | None = None) -> SoakResult:
    """Run at least `checks` checks of correct formulas (plus `large` large networks); see the module doc.
    result: a SoakResult to add to (the soak of several seeds, `soak_seeds`)."""
    rng = np.random.default_rng(seed)
    result = result if result is not None else SoakResult()
    first_check = result.checks
    catalog_formulas = _holds_in_catalog()
    memory = RunMemory()
    plan = schedule()
    start = time.perf_counter()
    step = 0
    while result.checks - first_check < checks or step < large * 2:
        dtype = np.float64 if step % 2 == 0 else np.float32
        regime_name, which = ("large", None) if step < large * 2 else plan[step % len(plan)]
        step += 1
        regime = REGIMES[regime_name]
        if which == "catalog":
            for formula in catalog_formulas:
                _check_one(result, rng, regime, dtype, formula.setting, [formula], memory)
        elif which == "step":
            _check_one(result, rng, regime, dtype, REGULARIZED_STEP, CORRECT_STEP, memory)
        elif which == "jacobian":
            _check_one(result, rng, regime, dtype, EVERY_ROW, CORRECT_JACOBIANS, memory)
        else:
            _check_one(result, rng, regime, dtype, EVERY_ROW, CORRECT, memory)
        if progress and step % 500 == 0:
            progress(result, time.perf_counter() - start)
    result.seconds += time.perf_counter() - start
    return result


def soak_seeds(checks: int, seeds, *, large: int = 16, progress=None) -> SoakResult:
    """soak() with each seed in turn, `checks` checks each, into one SoakResult; per seed its checks, false
    alarms and worst ratio in `by_seed`."""
    result = SoakResult()
    for seed in seeds:
        before = (result.checks, len(result.false_alarms))
        worst_before = (result.worst_ratio, result.worst)
        result.worst_ratio = 0.0
        soak(checks, seed=seed, large=large, progress=progress, result=result)
        result.by_seed[seed] = {"checks": result.checks - before[0], "false_alarms": len(result.false_alarms) - before[1],
                                "worst_correct_ratio": result.worst_ratio}
        if worst_before[0] > result.worst_ratio:
            result.worst_ratio, result.worst = worst_before
    return result


def _check_one(result: SoakResult, rng, regime: Regime, dtype, setting: Setting, formulas, memory: RunMemory) -> None:
    net = draw_network(rng, regime, dtype, setting)
    if not all(np.all(np.isfinite(v)) for qs in memory.oracle_answers(net).values() for v in qs.values()):
        result.skipped_networks += 1
        return
    # the answers and tolerances every formula is judged with (reference.py): the gradients', or for a Jacobian
    # claim the local Jacobians' (every formula of a batch is of one sort)
    jacobians = any(formula.target.is_jacobian for formula in formulas)
    judged = judged_network(net, memory, jacobians)
    answers, tolerances = judged[0], judged[1][0]
    result.networks += 1
    result.measured += tolerance.is_measured(net) and not jacobians
    reference = next(iter(answers.values()))
    with np.errstate(over="ignore"):
        for q, scale in tolerances.items():  # an infinite tolerance cannot fail: count such entries, never hide them
            infinite = int(np.sum(~np.isfinite(tolerance.tolerance_for(scale, reference[q]))))
            if infinite:
                key = f"{Quantity.parse(q).kind_text} ({net.loss}, {np.dtype(dtype)})"
                result.unbounded[key] = result.unbounded.get(key, 0) + infinite
    for formula in formulas:
        outcome = evaluate(formula, net, judged=judged)
        result.checks += 1
        key = str(np.dtype(dtype))
        result.by_dtype[key] = result.by_dtype.get(key, 0) + 1
        result.by_regime[regime.name] = result.by_regime.get(regime.name, 0) + 1
        result.kinks += outcome.kind == "kink"
        result.jacobian_checks += jacobians
        if outcome.oracle_note and len(result.oracle_notes) < 50:
            result.oracle_notes.append(outcome.oracle_note)
        if outcome.failed:
            result.false_alarms.append((formula.id, regime.name, outcome.message))
        elif outcome.ratio > result.worst_ratio:
            result.worst_ratio = outcome.ratio
            result.worst = f"{formula.id} on {net.describe()} ({regime.name}): {outcome.quantity} at {outcome.index}"
