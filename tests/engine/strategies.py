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


# Strategy objects are built once per argument tuple and reused: building one (st.integers, st.lists,
# a @composite call) validates its arguments, which cost more than the draw itself. The draws below are
# plain functions taking `draw`, called inside the one @composite `networks`, so a network is one
# composite call, not a dozen. The choices, their order and their bounds are the same as when each piece
# was its own composite, so the same networks are drawn and they shrink the same way.
@functools.lru_cache(maxsize=None)
def _sampled(options: tuple):
    return st.sampled_from(options)


@functools.lru_cache(maxsize=None)
def _integers(low: int, high: int):
    return st.integers(low, high)


@functools.lru_cache(maxsize=None)
def _integer_lists(low: int, high: int, size: int):
    return st.lists(_integers(low, high), min_size=size, max_size=size)


def _near_constant(m: np.ndarray) -> bool:
    return m.size > 1 and np.ptp(m) <= 1e-3 * (np.abs(m).max() + 1e-3)


def _draw_matrix(draw, shape: tuple[int, ...], dtype, scales, digits) -> np.ndarray:
    seed = draw(SEEDS)
    scale = draw(_sampled(tuple(scales)))
    places = draw(_sampled(tuple(digits)))
    return _fill(np.random.default_rng(seed), shape, dtype, scale, places)


def _fill(rng, shape: tuple[int, ...], dtype, scale: float, places: int) -> np.ndarray:
    """Uniform entries in [-1.5, 1.5] rounded to `places` decimals, times `scale`; never near-constant."""
    m = np.round(rng.uniform(-1.5, 1.5, size=shape), places) * scale
    if _near_constant(m):
        m = m + scale * 0.1 * np.arange(1, m.size + 1).reshape(shape)
    return m.astype(dtype)


@st.composite
def matrices(draw, shape: tuple[int, ...], *, dtype=np.float64, scales=SCALES, digits=DIGITS):
    """A matrix of `shape` with short decimal entries, never near-constant."""
    return _draw_matrix(draw, shape, dtype, scales, digits)


@st.composite
def targets(draw, kind: str, shape: tuple[int, int], *, dtype=np.float64):
    """Y of `shape`: real values, one-hot rows, probability rows (sum 1) or {0,1} labels."""
    return _draw_targets(draw, kind, shape, dtype)


def _draw_targets(draw, kind, shape, dtype):
    if kind == "real":
        return _draw_matrix(draw, shape, dtype, SCALES, DIGITS)
    return _fill_targets(np.random.default_rng(draw(SEEDS)), kind, shape, dtype)


def _fill_targets(rng, kind, shape, dtype, scale: float = 1.0, places: int = 1):
    n, k = shape
    if kind == "real":
        return _fill(rng, shape, dtype, scale, places)
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
    return _draw_architecture(draw, setting, min_depth)


@functools.lru_cache(maxsize=None)
def _loss_output_pairs(setting: Setting) -> tuple:
    return tuple((loss, out) for loss in setting.loss for out in setting.output
                 if LOSS_NEEDS_OUTPUT.get(loss, out) == out)


def _draw_architecture(draw, setting: Setting, min_depth: int):
    depth = draw(_integers(max(setting.depth[0], min_depth), setting.depth[1]))
    if setting.square:
        widths = [draw(_integers(*setting.width))] * (depth + 1)
    else:
        widths = draw(_integer_lists(*setting.width, depth + 1))
    batch = draw(_integers(*setting.batch))
    loss, output = draw(_sampled(_loss_output_pairs(setting)))
    hidden = [draw(_sampled(setting.hidden)) for _ in range(depth - 1)]
    kind = draw(_sampled(compatible_targets(loss, setting.targets)))
    return widths, batch, hidden + [output], loss, kind


@st.composite
def networks(draw, setting: Setting = Setting(), *, dtype=np.float64, min_depth: int = 1,
             scales=SCALES, input_scales=SCALES):
    """A Network within `setting`, in `dtype`, nudged off ReLU kinks; its arrays are note()d."""
    widths, batch, activations, loss, kind = _draw_architecture(draw, setting, min_depth)
    layers = []
    for l, activation in enumerate(activations, start=1):
        W = _draw_matrix(draw, (widths[l], widths[l - 1]), dtype, scales, DIGITS)
        b = _draw_matrix(draw, (widths[l],), dtype, scales, DIGITS)
        layers.append(Layer(W, b, activation))
    X = _draw_matrix(draw, (batch, widths[0]), dtype, input_scales, DIGITS)
    Y = _draw_targets(draw, kind, (batch, widths[-1]), dtype)
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
