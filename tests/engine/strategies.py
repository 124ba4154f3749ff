"""Hypothesis strategies for networks, layered: structure first, then values, then the network.

Structure (depth, widths, batch, activations, loss, target kind) is drawn with ordinary strategies, so
it shrinks to the fewest layers, the narrowest widths, the smallest batch and the first-listed names.
Values are drawn per matrix as (seed, scale, digits): NumPy's generator fills the matrix from the seed
(fast, thousands of entries in one draw), then rounds to `digits` decimals and scales. Shrinking moves
digits to 1, scale to 1 and the seed to 0, i.e. to short decimals such as 0.3 or -1.2 in a counterexample.
`arrays()` would shrink every cell to one value; a near-constant matrix hides a transposition, so a
matrix whose entries are (nearly) all equal gets a ramp added (never the case for single entries).

ReLU kinks: a pre-activation at exactly 0 has no derivative; torch, jax and a textbook each pick a
subgradient. Networks are nudged away from kinks (every relu pre-activation at least KINK_MARGIN from 0,
by shifting that unit's bias), so a disagreement there can never be mistaken for an erratum.
"""
from __future__ import annotations

import functools

import numpy as np
from hypothesis import note
from hypothesis.control import current_build_context
from hypothesis import strategies as st

from .formula import Setting
from .network import LOSS_NEEDS_OUTPUT, Layer, Network

SCALES = (1.0, 0.5, 2.0, 0.25, 4.0)  # first is the shrink target
DIGITS = (1, 0, 2, 3, 6)
KINK_MARGIN = 1e-3
SEEDS = st.integers(0, 2**32 - 1)  # built once: a strategy object per draw costs validation time


@functools.lru_cache(maxsize=None)
def _sampled(options: tuple):
    return st.sampled_from(options)


def _near_constant(m: np.ndarray) -> bool:
    return m.size > 1 and np.ptp(m) <= 1e-3 * (np.abs(m).max() + 1e-3)


@st.composite
def matrices(draw, shape: tuple[int, ...], *, dtype=np.float64, scales=SCALES, digits=DIGITS):
    """A matrix of `shape` with short decimal entries, never near-constant."""
    seed = draw(SEEDS)
    scale = draw(_sampled(scales))
    places = draw(_sampled(digits))
    rng = np.random.default_rng(seed)
    m = np.round(rng.uniform(-1.5, 1.5, size=shape), places) * scale
    if _near_constant(m):
        m = m + scale * 0.1 * np.arange(1, m.size + 1).reshape(shape)
    return m.astype(dtype)


@st.composite
def targets(draw, kind: str, shape: tuple[int, int], *, dtype=np.float64):
    """Y of `shape`: real values, one-hot rows, probability rows (sum 1) or {0,1} labels."""
    n, k = shape
    if kind == "real":
        return draw(matrices(shape, dtype=dtype))
    rng = np.random.default_rng(draw(SEEDS))
    if kind == "onehot":
        y = np.zeros(shape)
        y[np.arange(n), rng.integers(0, k, size=n)] = 1
    elif kind == "prob":
        y = np.round(rng.uniform(0.05, 1, size=shape), 2)
        y = y / y.sum(axis=1, keepdims=True)
    elif kind == "binary":
        y = rng.integers(0, 2, size=shape).astype(float)
    else:
        raise ValueError(f"unknown target kind {kind!r}")
    return y.astype(dtype)


def compatible_targets(loss: str, kinds: tuple[str, ...]) -> tuple[str, ...]:
    """Target kinds that make sense for a loss: a cross-entropy wants y in [0, 1]."""
    if loss in ("softmax_ce", "sigmoid_bce"):
        kinds = tuple(k for k in kinds if k != "real") or kinds
    return kinds


def _move_off_kinks(layers: list[Layer], X: np.ndarray) -> list[Layer]:
    """Shift relu units' biases so no pre-activation lies within KINK_MARGIN of 0 (float64 forward)."""
    a = X.astype(np.float64)
    out = []
    for layer in layers:
        W, b = layer.W, layer.b.copy()
        if layer.activation == "relu":
            for _ in range(4):
                z = a @ W.T.astype(np.float64) + b
                close = np.abs(z) < KINK_MARGIN
                if not close.any():
                    break
                b = (b + 4 * KINK_MARGIN * close.any(axis=0)).astype(b.dtype)
        z = a @ W.T.astype(np.float64) + b
        out.append(Layer(W, b, layer.activation))
        a = _activate64(layer.activation, z)
    return out


def _activate64(name, z):
    if name == "sigmoid":
        with np.errstate(over="ignore"):
            return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    return z  # identity; softmax is only ever the last layer


def _on_kink(layers, X) -> bool:
    a = X.astype(np.float64)
    for layer in layers:
        z = a @ layer.W.T.astype(np.float64) + layer.b
        if layer.activation == "relu" and (np.abs(z) < KINK_MARGIN / 2).any():
            return True
        a = _activate64(layer.activation, z)
    return False


@st.composite
def architectures(draw, setting: Setting, *, min_depth: int = 1):
    """(widths, batch, activations, loss, target kind) within `setting`."""
    depth = draw(st.integers(max(setting.depth[0], min_depth), setting.depth[1]))
    if setting.square:
        widths = [draw(st.integers(*setting.width))] * (depth + 1)
    else:
        widths = draw(st.lists(st.integers(*setting.width), min_size=depth + 1, max_size=depth + 1))
    batch = draw(st.integers(*setting.batch))
    pairs = [(loss, out) for loss in setting.loss for out in setting.output
             if LOSS_NEEDS_OUTPUT.get(loss, out) == out]
    loss, output = draw(st.sampled_from(pairs))
    hidden = [draw(st.sampled_from(setting.hidden)) for _ in range(depth - 1)]
    kind = draw(st.sampled_from(compatible_targets(loss, setting.targets)))
    return widths, batch, hidden + [output], loss, kind


@st.composite
def networks(draw, setting: Setting = Setting(), *, dtype=np.float64, min_depth: int = 1,
             scales=SCALES, input_scales=SCALES):
    """A Network within `setting`, in `dtype`, nudged off ReLU kinks; its arrays are note()d."""
    widths, batch, activations, loss, kind = draw(architectures(setting, min_depth=min_depth))
    layers = []
    for l, activation in enumerate(activations, start=1):
        W = draw(matrices((widths[l], widths[l - 1]), dtype=dtype, scales=scales))
        b = draw(matrices((widths[l],), dtype=dtype, scales=scales))
        layers.append(Layer(W, b, activation))
    X = draw(matrices((batch, widths[0]), dtype=dtype, scales=input_scales))
    Y = draw(targets(kind, (batch, widths[-1]), dtype=dtype))
    if "relu" in activations:
        layers = _move_off_kinks(layers, X)
        if _on_kink(layers, X):  # float32 rounding of the nudged bias can land back near 0
            from hypothesis import reject
            reject()
    net = Network(tuple(layers), loss, X, Y, kind)
    if current_build_context().is_final:  # printing arrays is slow: only for the reported example
        note(f"network: {net.describe()}")
        for l, layer in enumerate(layers, start=1):
            note(f"W[{l}] =\n{layer.W}\nb[{l}] = {layer.b}")
        note(f"X =\n{X}\nY =\n{Y}")
    return net
