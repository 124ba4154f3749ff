"""Sweep: one formula on many random networks of ONE architecture at once, then Hypothesis to shrink.

The search (search.py) checks one network per Hypothesis example; that is what finds small, shrunk
counterexamples, but each example costs milliseconds of bookkeeping. A sweep trades shrinking for
volume: it fills `count` networks of one architecture (same widths, batch, activations, loss, target
kind) with values drawn the way strategies.py draws them (short decimals, never near-constant, ReLU
units nudged off their kinks), gets every quantity of all of them from torch in one vmapped pass
(references.torch_autograd.stacked_quantities), runs the formula on all of them at once (NumPy
broadcasting over a leading axis; if the formula cannot broadcast, a loop), and screens.

Screening never decides a verdict. The screen tolerance is the tolerance model of tolerance.py computed
for the whole stack (same B, K, Z, floor, checked equal to the per-network one in tests/test_sweep.py);
a network it flags is checked again by evaluate() — both oracles, the per-network tolerance — and only
a failure there counts. A confirmed failure is handed to Hypothesis (`shrink_failure`): search() in the
setting of that architecture's activations and loss, bounded by its sizes, so the report gets the
smallest failing network, as for any search.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from backprop_audit.manual.forward import activate
from . import tolerance
from .convention import View, expected_value, view_of
from .evaluate import evaluate
from .formula import Setting
from .network import Layer, Network
from .strategies import DIGITS, KINK_MARGIN, SCALES, _activate64, _fill, _fill_targets


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
    broadcast: bool = True  # False: the formula was run network by network
    seconds: float = 0.0

    @property
    def networks_per_s(self) -> float:
        return self.networks / self.seconds if self.seconds else 0.0


def random_stack(architecture: Architecture, count: int, *, dtype="float64", seed: int = 0) -> NetworkStack:
    """`count` networks with values drawn as strategies.py draws them (scale and digits per network)."""
    rng = np.random.default_rng(seed)
    w, N, dtype = architecture.widths, architecture.batch, np.dtype(dtype)
    scales = rng.choice(SCALES, size=count)[:, None, None]
    places = rng.choice(DIGITS, size=count)
    powers = 10.0 ** places

    def fill(shape, scale=scales):
        m = rng.uniform(-1.5, 1.5, size=(count,) + shape)
        # each network to its own number of decimals: np.round(x, p) is rint(x * 10^p) / 10^p
        m = np.rint(m * powers.reshape((count,) + (1,) * len(shape))) / powers.reshape((count,) + (1,) * len(shape))
        m = m * scale.reshape((count,) + (1,) * len(shape))
        flat = m.reshape(count, -1)
        constant = (flat.shape[1] > 1) & (np.ptp(flat, axis=1) <= 1e-3 * (np.abs(flat).max(axis=1) + 1e-3))
        if constant.any():  # the same ramp strategies._fill adds
            ramp = 0.1 * np.arange(1, flat.shape[1] + 1).reshape(shape)
            m[constant] += scale.reshape(-1, *(1,) * len(shape))[constant] * ramp
        return m.astype(dtype)

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


def stacked_view(stack: NetworkStack, convention: str) -> View:
    """convention.view_of for a whole stack: the same arrays with a leading network axis, z and a from
    the manual forward pass (manual.forward.activate) run on the stack."""
    zs, acts = [None], [stack.X]
    a = stack.X
    for W, b, activation in zip(stack.Ws, stack.bs, stack.architecture.activations):
        z = a @ np.swapaxes(W, -1, -2) + b[:, None, :]
        a = activate(activation, z, axis=-1)
        zs.append(z)
        acts.append(a)
    T = lambda m: np.swapaxes(m, -1, -2)
    arch = stack.architecture
    if convention == "row":
        W = [None] + [T(W) for W in stack.Ws]
        b = [None] + [b[:, None, :] for b in stack.bs]
        z, a, x, y = zs, acts, stack.X, stack.Y
    else:
        W = [None] + list(stack.Ws)
        b = [None] + [b[:, :, None] for b in stack.bs]
        z = [None] + [T(v) for v in zs[1:]]
        a = [T(v) for v in acts]
        x, y = T(stack.X), T(stack.Y)
    return View(convention, len(stack.Ws), arch.batch, arch.widths, x, y, W, b, z, a,
                [None] + list(arch.activations), arch.loss)


def stacked_tolerances(stack: NetworkStack, names) -> dict[str, tuple]:
    """tolerance.tolerances for every network of the stack at once: the same code (tolerance.py is
    written for a leading network axis), so the screen and evaluate() use one tolerance model."""
    arch = stack.architecture
    parameters = tolerance.Parameters(list(stack.Ws), list(stack.bs), tuple(arch.activations), arch.loss,
                                      stack.X, stack.Y)
    pieces = tolerance.tolerances(parameters)
    return {q: pieces[q] for q in names}


def _stacked_tol(scale, value):
    coefficient, B, amplification, floor = scale
    amplification = amplification.reshape((-1,) + (1,) * (value.ndim - 1))
    return coefficient * (B + np.abs(value.astype(np.float64)) * amplification + floor)


def _formula_values(formula, stack: NetworkStack, layers) -> tuple[dict, bool]:
    """{layer: value with a leading network axis}, and whether broadcasting over the stack worked.

    Broadcasting is trusted only if it gives the formula's own per-network values on the first networks
    (a formula that sums over axis 0, or transposes with .T, silently mixes networks when stacked)."""
    call = (lambda view, l: formula.compute(view, l)) if formula.per_layer else (lambda view, l: formula.compute(view))
    probe = min(stack.count, 2)
    try:
        with np.errstate(all="ignore"):
            view = stacked_view(stack, formula.convention)
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


def sweep(formula, architecture: Architecture, count: int = 10_000, *, dtype="float64", seed: int = 0,
          confirm: int = 20) -> SweepResult:
    """Check `formula` on `count` random networks of `architecture`; confirm up to `confirm` flagged ones."""
    from backprop_audit.references import torch_autograd

    start = time.perf_counter()
    result = SweepResult(formula.id, architecture)
    stack = random_stack(architecture, count, dtype=dtype, seed=seed)
    L = len(stack.Ws)
    layers = formula.layers(L)
    names = [formula.quantity_at(l) for l in layers]
    oracle = torch_autograd.stacked_quantities(stack.Ws, stack.bs, stack.X, stack.Y, architecture.activations, architecture.loss)
    tolerances = stacked_tolerances(stack, names)
    values, result.broadcast = _formula_values(formula, stack, layers)
    flagged = np.zeros(count, dtype=bool)
    for l, q in zip(layers, names):
        reference = oracle[q]
        tol = _stacked_tol(tolerances[q], reference)
        # in the formula's convention, network axis first (expected_value works on the last two axes)
        expected = np.stack([expected_value(q, reference[i], formula.convention) for i in range(min(count, 1))])
        expected_shape = expected.shape[1:]
        to_convention = lambda m: _convention_stack(q, m, formula.convention)
        if result.broadcast:
            value = values[l]
            if value.shape != (count,) + expected_shape or value.dtype != np.dtype(dtype):
                flagged[:] = True  # wrong shape or dtype: evaluate() says which
                continue
            with np.errstate(invalid="ignore"):
                diff = np.abs(value.astype(np.float64) - to_convention(reference).astype(np.float64))
                bad = ~(diff <= to_convention(tol))
            flagged |= bad.reshape(count, -1).any(axis=1)
        else:
            for i, value in enumerate(values[l]):
                if value is None or value.shape != expected_shape or value.dtype != np.dtype(dtype):
                    flagged[i] = True
                    continue
                with np.errstate(invalid="ignore"):
                    diff = np.abs(value.astype(np.float64) - expected_value(q, reference[i], formula.convention))
                    flagged[i] |= bool(np.any(~(diff <= expected_value(q, tol[i], formula.convention))))
    result.networks = count
    result.flagged = int(flagged.sum())
    for i in np.flatnonzero(flagged)[:confirm]:
        outcome = evaluate(formula, stack.network(int(i)))
        if outcome.failed:
            result.failures.append(outcome)
    result.seconds = time.perf_counter() - start
    return result


def _convention_stack(q: str, m: np.ndarray, convention: str) -> np.ndarray:
    """convention.expected_value applied to every network of a stack (leading axis)."""
    kind = q.split("[")[0]
    if kind == "C":
        return m
    if convention == "row":
        return np.swapaxes(m, -1, -2) if kind == "dC/dW" else m
    if kind == "dC/db":
        return m[..., None]
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
    from .search import search

    return search(formula, setting=setting, dtype=dtype, examples=examples)
