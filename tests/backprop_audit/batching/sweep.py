"""Sweep: one formula on many random networks of ONE architecture at once, then Hypothesis to shrink.

The search (search.py) checks one network per Hypothesis example; that is what finds small, shrunk
counterexamples, but each example costs milliseconds of bookkeeping. A sweep trades shrinking for
volume: it fills `count` networks of one architecture (same widths, batch, activations, loss, target
kind) with values drawn the way strategies.py draws them (short decimals, never near-constant, ReLU
units nudged off their kinks), `CHUNK` networks at a time; of each chunk it gets the quantities the
formula asks about from torch in one autograd pass over the stack
(references.torch_autograd.stacked_quantities), runs the formula on all of them at once (NumPy
broadcasting over a leading axis; if the formula cannot broadcast, a loop), and screens (`screen`).

Screening never decides a verdict. The screen tolerance is the tolerance model of tolerance.py, its own
functions run on the whole stack (`stacked_tolerances`), and the screen compares entry by entry with
compare.ratios, as evaluate() does;
a network it flags is checked again by evaluate() — both oracles, the per-network tolerance — and only
a failure there counts. A confirmed failure is handed to Hypothesis (`shrink_failure`): search() in the
setting of that architecture's activations and loss, bounded by its sizes, so the report gets the
smallest failing network, as for any search.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from backprop_audit.manual.forward import activate
from backprop_audit.judging import compare, tolerance
from backprop_audit.model.convention import View, expected_value, labels_of, view_of
from backprop_audit.judging.evaluate import evaluate
from backprop_audit.model.formula import Setting
from backprop_audit.model.network import Layer, Network
from backprop_audit.searching.strategies import DIGITS, KINK_MARGIN, SCALES, _activate64, _fill_targets


@dataclass(frozen=True)
class Architecture:
    widths: tuple[int, ...]
    batch: int
    activations: tuple[str, ...]  # per layer, the last is the output activation
    loss: str
    targets: str = "real"

    def describe(self) -> str:
        return (f"widths {list(self.widths)}, batch {self.batch}, activations {'/'.join(self.activations)}, "
                f"loss {self.loss}, targets {self.targets}")


@dataclass
class NetworkStack:
    """`count` networks of one architecture; Ws[l-1] (count, out, in), bs[l-1] (count, out),
    X (count, N, n0), Y (count, N, nL): the canonical layout with a leading network axis."""
    architecture: Architecture
    Ws: list
    bs: list
    X: np.ndarray
    Y: np.ndarray

    @property
    def count(self) -> int:
        return self.X.shape[0]

    def parameters(self) -> tolerance.Parameters:
        """What the tolerance model reads: the arrays, with their leading network axis."""
        arch = self.architecture
        return tolerance.Parameters(list(self.Ws), list(self.bs), tuple(arch.activations), arch.loss, self.X, self.Y)

    def network(self, i: int) -> Network:
        arch = self.architecture
        layers = tuple(Layer(W[i], b[i], act) for W, b, act in zip(self.Ws, self.bs, arch.activations))
        return Network(layers, arch.loss, self.X[i], self.Y[i], arch.targets)


@dataclass
class SweepResult:
    formula_id: str
    architecture: Architecture
    networks: int = 0
    flagged: int = 0  # networks the screen sent to evaluate()
    failures: list = field(default_factory=list)  # Outcomes confirmed by evaluate()
    broadcast: bool = True  # False: the formula was run network by network (in some chunk)
    confirmed: int = 0  # flagged networks re-checked by evaluate() (at most `confirm`)
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU time (the wall clock also counts the neighbours)

    @property
    def networks_per_s(self) -> float:
        return self.networks / self.seconds if self.seconds else 0.0

    @property
    def networks_per_cpu_s(self) -> float:
        return self.networks / self.cpu_seconds if self.cpu_seconds else 0.0


def random_stack(architecture: Architecture, count: int, *, dtype="float64", seed=0) -> NetworkStack:
    """`count` networks with values drawn as strategies.py draws them (scale and digits per network).

    Every real-valued matrix (each W, b, X, and Y for real targets) of a network is filled as
    strategies._fill fills one: uniform entries in [-1.5, 1.5] rounded to the network's decimals, times
    its scale, and a ramp added to a near-constant matrix. seed: anything np.random.default_rng takes."""
    rng = np.random.default_rng(seed)
    w, N, dtype = architecture.widths, architecture.batch, np.dtype(dtype)
    scales = rng.choice(SCALES, size=count)[:, None]
    places = rng.choice(DIGITS, size=count)
    powers = (10.0 ** places)[:, None]

    def fill(shape):
        size = int(np.prod(shape))
        # rng.uniform(-1.5, 1.5) is -1.5 + 3·U with U = rng.random(): the same numbers, computed in place
        m = rng.random(size=(count, size))
        m *= 3.0
        m += -1.5
        # each network to its own number of decimals: np.round(x, p) is rint(x * 10^p) / 10^p
        m *= powers
        np.rint(m, out=m)
        m /= powers
        m *= scales
        if size > 1:  # near-constant: ptp <= 1e-3 (max|m| + 1e-3), ptp = max - min, max|m| = max(max, -min)
            high, low = m.max(axis=1), m.min(axis=1)
            constant = high - low <= 1e-3 * (np.maximum(high, -low) + 1e-3)
            if constant.any():  # the same ramp strategies._fill adds
                m[constant] += scales[constant] * (0.1 * np.arange(1, size + 1))
        m = m.reshape((count,) + shape)
        return m if m.dtype == dtype else m.astype(dtype)

    Ws = [fill((w[l], w[l - 1])) for l in range(1, len(w))]
    bs = [fill((w[l],)) for l in range(1, len(w))]
    X = fill((N, w[0]))
    if architecture.targets == "real":
        Y = fill((N, w[-1]))
    else:
        Y = np.stack([_fill_targets(rng, architecture.targets, (N, w[-1]), dtype) for _ in range(count)])
    stack = NetworkStack(architecture, Ws, bs, X, Y)
    if "relu" in architecture.activations:
        _move_stack_off_kinks(stack)
    return stack


def _move_stack_off_kinks(stack: NetworkStack) -> None:
    """strategies._move_off_kinks for a whole stack: shift relu units' biases off |z| < KINK_MARGIN."""
    a = stack.X.astype(np.float64)
    for l, activation in enumerate(stack.architecture.activations):
        W64 = np.swapaxes(stack.Ws[l].astype(np.float64), -1, -2)
        if activation == "relu":
            for _ in range(4):
                z = a @ W64 + stack.bs[l][:, None, :]
                close = (np.abs(z) < KINK_MARGIN).any(axis=1)
                if not close.any():
                    break
                stack.bs[l] = (stack.bs[l] + 4 * KINK_MARGIN * close).astype(stack.bs[l].dtype)
        a = _activate64(activation, a @ W64 + stack.bs[l][:, None, :])


def manual_forward(stack: NetworkStack) -> tuple[list, list]:
    """z[l], a[l] of every network of the stack (row layout, leading network axis) from the manual forward
    pass (manual.forward.activate): what the formula's view holds."""
    zs, acts = [None], [stack.X]
    a = stack.X
    with np.errstate(all="ignore"):
        for W, b, activation in zip(stack.Ws, stack.bs, stack.architecture.activations):
            z = a @ np.swapaxes(W, -1, -2) + b[:, None, :]
            a = activate(activation, z, axis=-1)
            zs.append(z)
            acts.append(a)
    return zs, acts


def stacked_view(stack: NetworkStack, convention: str, forward=None) -> View:
    """convention.view_of for a whole stack: the same arrays with a leading network axis, z and a from
    the manual forward pass (`manual_forward`, or `forward` if it was already run)."""
    zs, acts = forward or manual_forward(stack)
    T = lambda m: np.swapaxes(m, -1, -2)
    arch = stack.architecture
    if convention == "row":
        W = [None] + [T(W) for W in stack.Ws]
        b = [None] + [b[:, None, :] for b in stack.bs]
        z, a, x, y = list(zs), list(acts), stack.X, stack.Y
    else:
        W = [None] + list(stack.Ws)
        b = [None] + [b[:, :, None] for b in stack.bs]
        z = [None] + [T(v) for v in zs[1:]]
        a = [T(v) for v in acts]
        x, y = T(stack.X), T(stack.Y)
    return View(convention, len(stack.Ws), arch.batch, arch.widths, x, y, W, b, z, a,
                [None] + list(arch.activations), arch.loss, labels=labels_of(stack.Y, arch.targets))


def stacked_tolerances(stack: NetworkStack, forward=None) -> dict[str, tuple]:
    """tolerance.tolerances of every network of the stack at once: the one model, on arrays with a
    leading network axis. forward: the stack's manual forward pass (`manual_forward`), if already run;
    in float64 it IS tolerance._forward64's, the same matmul and activation expressions on the same
    float64 arrays (equal to the bit, tests/test_sweep.py), so it is not run twice. In float32 the
    tolerance needs its own float64 forward pass."""
    p = stack.parameters()
    reused = forward if forward is not None and stack.X.dtype == np.float64 else None
    return tolerance.tolerances(p, forward=tolerance.forward_pass(p, reused))


def _formula_values(formula, stack: NetworkStack, layers, forward=None) -> tuple[dict, bool]:
    """{layer: value with a leading network axis}, and whether broadcasting over the stack worked.

    Broadcasting is trusted only if it gives the formula's own per-network values on the first networks
    (a formula that sums over axis 0, or transposes with .T, silently mixes networks when stacked).
    forward: the stack's manual forward pass, if already run (`manual_forward`)."""
    call = (lambda view, l: formula.compute(view, l)) if formula.per_layer else (lambda view, l: formula.compute(view))
    probe = min(stack.count, 2)
    try:
        with np.errstate(all="ignore"):
            view = stacked_view(stack, formula.convention, forward)
            values = {l: np.asarray(call(view, l)) for l in layers}
            for i in range(probe):
                single = view_of(stack.network(i), formula.convention)
                for l in layers:
                    one = np.asarray(call(single, l))
                    if values[l].shape != (stack.count,) + one.shape or not np.allclose(values[l][i], one, rtol=1e-9, atol=0, equal_nan=True):
                        raise ValueError("broadcast differs")
        return values, True
    except Exception:
        pass
    values = {l: [] for l in layers}
    for i in range(stack.count):  # the formula cannot broadcast: one network at a time
        view = view_of(stack.network(i), formula.convention)
        for l in layers:
            try:
                with np.errstate(all="ignore"):
                    values[l].append(np.asarray(call(view, l)))
            except Exception:
                values[l].append(None)
    return values, False


CHUNK = 8192  # networks drawn and screened at once (each chunk costs ~2 ms of fixed overhead)
_ORACLE_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep-torch")


def screen(formula, stack: NetworkStack) -> tuple[np.ndarray, bool]:
    """Which networks of the stack the screen flags (a boolean per network), and whether the formula
    broadcast over the stack. A network is flagged if any entry of any quantity the formula gives
    differs from the torch oracle by more than the tolerance (tolerance.py's model, stacked), or if its
    value has the wrong shape or dtype, or could not be computed."""
    from backprop_audit.references import torch_autograd

    arch, count, dtype = stack.architecture, stack.count, stack.X.dtype
    layers = formula.layers(len(stack.Ws))
    names = [formula.quantity_at(l) for l in layers]
    # torch's pass runs on a second thread while NumPy does the manual forward, the tolerances and the
    # formula: both release the GIL inside their kernels, and the machine has two cores (torch itself
    # still uses one thread)
    oracle = _ORACLE_THREAD.submit(torch_autograd.stacked_quantities, stack.Ws, stack.bs, stack.X, stack.Y,
                                   arch.activations, arch.loss, names=names)
    forward = manual_forward(stack)
    tolerances = stacked_tolerances(stack, forward)
    values, broadcast = _formula_values(formula, stack, layers, forward)
    oracle = oracle.result()
    flagged = np.zeros(count, dtype=bool)
    for l, q in zip(layers, names):
        reference = oracle[q]
        tol = tolerance.stacked_tolerance_for(tolerances[q], reference)
        # in the formula's convention, network axis first (expected_value works on the last two axes)
        expected_shape = expected_value(q, reference[0], formula.convention).shape
        if broadcast:
            value = values[l]
            if value.shape != (count,) + expected_shape or value.dtype != dtype:
                flagged[:] = True  # wrong shape or dtype: evaluate() says which
                continue
            # compared in the canonical layout (the formula's value brought back to it); a NaN ratio is
            # never <= 1, so it is flagged
            ratio = compare.ratios(_canonical_stack(q, value, formula.convention), reference, tol)
            flagged |= ~(compare.worst_per_network(ratio) <= 1.0)
        else:
            for i, value in enumerate(values[l]):
                if value is None or value.shape != expected_shape or value.dtype != dtype:
                    flagged[i] = True
                    continue
                worst, _ = compare.worst_ratio(value, expected_value(q, reference[i], formula.convention),
                                               expected_value(q, tol[i], formula.convention))
                flagged[i] |= not worst <= 1.0
    return flagged, broadcast


def sweep(formula, architecture: Architecture, count: int = 10_000, *, dtype="float64", seed: int = 0,
          confirm: int = 20, chunk: int = CHUNK) -> SweepResult:
    """Check `formula` on `count` random networks of `architecture`; confirm up to `confirm` flagged ones.

    The networks are drawn and screened `chunk` at a time (chunk k drawn with seed [seed, k])."""
    if formula.target.is_jacobian:  # the stacked oracles return gradients only
        raise ValueError(f"sweep: {formula.quantity} is a local Jacobian, judged one network at a time; check it with "
                         f"evaluate(), check_many() or a search")
    if sum(architecture.widths) + architecture.batch >= tolerance.MEASURED_FROM:
        # the screen judges with the worst-case count; evaluate() would judge such networks with the measured
        # one (judging/reference.py), so the screen would let through what evaluate() catches
        raise ValueError(f"sweep: architecture {architecture.describe()} has sums of {tolerance.MEASURED_FROM} or "
                         f"more terms (Σ widths + N); check such networks with evaluate() or a search")
    start, cpu = time.perf_counter(), time.process_time()
    result = SweepResult(formula.id, architecture)
    for k, first in enumerate(range(0, count, chunk)):
        stack = random_stack(architecture, min(chunk, count - first), dtype=dtype, seed=[seed, k])
        flagged, broadcast = screen(formula, stack)
        result.broadcast &= broadcast
        result.networks += stack.count
        result.flagged += int(flagged.sum())
        for i in np.flatnonzero(flagged)[:max(confirm - result.confirmed, 0)]:
            result.confirmed += 1
            outcome = evaluate(formula, stack.network(int(i)))
            if outcome.failed:
                result.failures.append(outcome)
    result.seconds = time.perf_counter() - start
    result.cpu_seconds = time.process_time() - cpu
    return result


def _canonical_stack(q: str, m: np.ndarray, convention: str) -> np.ndarray:
    """A stack of values in `convention` back in the canonical layout (convention.expected_value undone)."""
    kind = q.split("[")[0]
    if kind == "C":
        return m
    if convention == "row":
        return np.swapaxes(m, -1, -2) if kind == "dC/dW" else m
    if kind == "dC/db":
        return m[..., 0]
    if kind in ("dC/dz", "dC/da"):
        return np.swapaxes(m, -1, -2)
    return m


def shrink_failure(formula, architecture: Architecture, *, dtype="float64", examples: int = 100):
    """Hand a sweep's failure to Hypothesis: search the formula on networks with this architecture's
    activations, loss and targets, no deeper, wider or larger a batch than it; the search shrinks."""
    depth = len(architecture.activations)
    setting = Setting(depth=(1, depth), width=(1, max(architecture.widths)), batch=(1, architecture.batch),
                      hidden=tuple(dict.fromkeys(architecture.activations[:-1])) or formula.setting.hidden,
                      output=(architecture.activations[-1],), loss=(architecture.loss,), targets=(architecture.targets,))
    from backprop_audit.searching.search import search

    return search(formula, setting=setting, dtype=dtype, examples=examples)
