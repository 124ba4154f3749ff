"""Sweep: one formula on many random networks of ONE architecture at once, then Hypothesis to shrink.

The search (search.py) checks one network per Hypothesis example; that is what finds small, shrunk
counterexamples, but each example costs milliseconds of bookkeeping. A sweep trades shrinking for
volume: it fills `count` networks of one architecture (same widths, batch, activations, loss, target
kind) with values drawn the way strategies.py draws them (short decimals, never near-constant, ReLU
units nudged off their kinks), `CHUNK` networks at a time; of each chunk it gets the quantities the
formula asks about from torch in one autograd pass over the stack
(references.torch_autograd.stacked_quantities), runs the formula on all of them at once (NumPy
broadcasting over a leading axis; if the formula cannot broadcast, a loop), and screens (`screen`).

Screening never decides a verdict. The screen tolerance is the tolerance model of tolerance.py computed
for the whole stack (`stacked_tolerances`: the same B, K, Z, floor, to the bit, checked against
tolerance.tolerances in tests/test_sweep.py), entry by entry;
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
from backprop_audit.judging import tolerance
from backprop_audit.model.convention import View, expected_value, view_of
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
                [None] + list(arch.activations), arch.loss)


def stacked_tolerances(stack: NetworkStack, names, forward64=None) -> dict[str, tuple]:
    """tolerance.tolerances for every network of the stack at once, for the quantities `names` only:
    {q: (SAFETY·ε·K, B, 1 + Z, τ/ε)}, B and Z with a leading network axis.

    The same tolerance model as tolerance.py, step by step (forward_magnitudes, largest_preactivation,
    error_scales), with the same expressions in the same order, so the numbers are the same to the bit
    (tests/test_sweep.py compares them with tolerance.tolerances, stacked and per network). What differs
    is only what is not needed: |W| is taken once per layer, not three times; |g'| is computed for the
    layer's own activation only (forward_magnitudes builds all four); Z's first-layer sum is M[1]
    (A[0] = |a[0]|); the B of quantities not asked for are not formed (the backward stops at the lowest
    layer asked for). forward64: z[l], a[l] in float64 if already computed (tolerance._forward64's)."""
    arch = stack.architecture
    p = tolerance.Parameters(list(stack.Ws), list(stack.bs), tuple(arch.activations), arch.loss, stack.X, stack.Y)
    dtype = stack.X.dtype
    eps = tolerance.unit_roundoff(dtype)
    floor = float(np.finfo(dtype).tiny) / eps
    zs, acts = forward64 or tolerance._forward64(p)
    K = tolerance.sum_lengths(p)
    names = list(dict.fromkeys(names))
    L, N = len(p.Ws), p.batch
    T = lambda m: np.swapaxes(m, -1, -2)
    absWT = [np.abs(T(W.astype(np.float64))) for W in p.Ws]  # |W[l]|ᵀ, a transposed view as in tolerance.py
    absb = [np.abs(b.astype(np.float64))[..., None, :] for b in p.bs]
    # The in-place steps below compute the same products and sums as tolerance.py's expressions, only
    # without a new array for every intermediate (x·y = y·x and x + y = y + x exactly in IEEE arithmetic).
    absa = [np.abs(acts[0])]  # |a[l]|
    A, Z = [absa[0]], 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # forward_magnitudes and largest_preactivation
        for l, activation in enumerate(p.activations, start=1):
            M = A[-1] @ absWT[l - 1]
            M += absb[l - 1]
            if l == 1:
                magnitude = M  # A[0] = |a[0]|: the same sum
            else:
                magnitude = absa[l - 1] @ absWT[l - 1]
                magnitude += absb[l - 1]
            Z = np.maximum(Z, magnitude.max(axis=(-2, -1)))
            a = acts[l]
            absa.append(np.abs(a))
            if activation == "softmax":
                others = np.sum(a * M, axis=-1, keepdims=True) - a * M
                A.append(a * (1 + (1 - a) * M + others))
                continue
            if activation == "sigmoid":  # |a| + a(1 - a)·M
                slope = 1 - a
                slope *= a
            elif activation == "tanh":  # |a| + (1 - a²)·M
                slope = np.square(a)
                np.subtract(1, slope, out=slope)
            elif activation == "relu":
                slope = (zs[l] > 0).astype(float)
            elif activation == "identity":  # |a| + 1·M
                slope = M
            else:
                raise ValueError(activation)
            if slope is not M:
                slope *= M
            slope += absa[l]
            A.append(slope)
    amplification = 1 + Z

    def magnitude_prime(l, B):  # B · tolerance._magnitude_prime(activation of layer l), a new array
        activation = p.activations[l - 1]
        if activation == "identity":
            return B.copy()
        if activation == "sigmoid":  # |a|(1 + |a|)
            prime = absa[l] + 1
            prime *= absa[l]
        elif activation == "tanh":  # 1 + a²
            prime = np.square(acts[l])
            prime += 1
        else:
            prime = tolerance._magnitude_prime(activation, zs[l], acts[l])
        prime *= B
        return prime

    B = {}
    lowest = min([int(q[q.index("[") + 1:-1]) for q in names if q != "C"], default=L + 1)
    a_out, y = A[L], np.abs(p.Y.astype(np.float64))
    loss = p.loss
    factor = {"sum_sq": 2.0, "half_sum_sq": 1.0, "mean_sum_sq": 2.0 / N, "mean_half_sum_sq": 1.0 / N}
    both = (-2, -1)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # error_scales
        if loss in factor:
            B_a = a_out + y
            if "C" in names:
                B["C"] = np.asarray(factor[loss] * np.sum(B_a ** 2, axis=both))
            B_a *= factor[loss]
            if p.activations[-1] == "softmax":
                s = a_out
                B_z = s * (B_a + np.sum(s * B_a, axis=-1, keepdims=True))
            else:
                B_z = magnitude_prime(L, B_a)
        else:
            s, tiny = absa[L], np.finfo(np.float64).tiny
            carried = a_out - s  # the error s already carries from the forward sums (forward_magnitudes)
            inverse = lambda q: (1 / np.maximum(q, tiny)) * (1 + carried / np.maximum(q, tiny))
            if loss == "softmax_ce":
                B_z = (a_out * np.sum(y, axis=-1, keepdims=True) + y) / N
                B_a = y * inverse(s) / N
            elif loss == "sigmoid_bce":
                B_z = (a_out + y) / N
                B_a = (y * inverse(s) + np.abs(1 - y) * inverse(1 - s)) / N
            else:
                raise ValueError(loss)
            if "C" in names:
                B["C"] = np.asarray(np.sum((y + 1) * (np.abs(zs[L]) + np.log(max(p.widths[-1], 2)) + 1), axis=both) / N)
        for l in range(L, lowest - 1, -1):
            if l < L:
                B_a = B_z @ T(absWT[l])  # B_z of layer l + 1, times |W[l+1]|
                B_z = magnitude_prime(l, B_a)
            B[f"dC/da[{l}]"] = B_a
            B_z += floor  # B_z is a new array here (magnitude_prime, or the softmax/cross-entropy expressions)
            B[f"dC/dz[{l}]"] = B_z
            if f"dC/dW[{l}]" in names:
                B[f"dC/dW[{l}]"] = T(B_z) @ A[l - 1]
            if f"dC/db[{l}]" in names:
                B[f"dC/db[{l}]"] = B_z.sum(axis=-2)
    return {q: (tolerance.SAFETY * eps * K[q], B[q], amplification, floor) for q in names}


def _stacked_tol(scale, value):
    """tol = SAFETY·ε·K·(B + |g|·(1 + Z) + τ/ε) entry by entry, for oracle values g with a leading network axis."""
    coefficient, B, amplification, floor = scale
    amplification = amplification.reshape((-1,) + (1,) * (value.ndim - 1))
    tol = np.abs(value.astype(np.float64))
    tol *= amplification
    tol += B  # B + |g|(1 + Z): the same sum, the same rounding
    tol += floor
    tol *= coefficient
    return tol


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
    # In float64 the manual forward pass IS tolerance._forward64: the same matmul and the same activation
    # expressions on the same float64 arrays (equal to the bit, tests/test_sweep.py); in float32 the
    # tolerance needs its own float64 forward pass.
    tolerances = stacked_tolerances(stack, names, forward if dtype == np.float64 else None)
    values, broadcast = _formula_values(formula, stack, layers, forward)
    oracle = oracle.result()
    flagged = np.zeros(count, dtype=bool)
    for l, q in zip(layers, names):
        reference = oracle[q]
        tol = _stacked_tol(tolerances[q], reference)
        # in the formula's convention, network axis first (expected_value works on the last two axes)
        expected_shape = expected_value(q, reference[0], formula.convention).shape
        if broadcast:
            value = values[l]
            if value.shape != (count,) + expected_shape or value.dtype != dtype:
                flagged[:] = True  # wrong shape or dtype: evaluate() says which
                continue
            with np.errstate(invalid="ignore"):
                # compared in the canonical layout (the formula's value brought back to it): the same
                # entries, the same differences, in float64; NaN is never <= tol, so it is flagged
                diff = _canonical_stack(q, value, formula.convention).astype(np.float64, copy=False) - reference
                np.abs(diff, out=diff)
                within = diff <= tol
            flagged |= ~within.reshape(count, -1).all(axis=1)
        else:
            for i, value in enumerate(values[l]):
                if value is None or value.shape != expected_shape or value.dtype != dtype:
                    flagged[i] = True
                    continue
                with np.errstate(invalid="ignore"):
                    diff = np.abs(value.astype(np.float64) - expected_value(q, reference[i], formula.convention))
                    flagged[i] |= bool(np.any(~(diff <= expected_value(q, tol[i], formula.convention))))
    return flagged, broadcast


def sweep(formula, architecture: Architecture, count: int = 10_000, *, dtype="float64", seed: int = 0,
          confirm: int = 20, chunk: int = CHUNK) -> SweepResult:
    """Check `formula` on `count` random networks of `architecture`; confirm up to `confirm` flagged ones.

    The networks are drawn and screened `chunk` at a time (chunk k drawn with seed [seed, k])."""
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
