"""Hypothesis strategies for networks, layered: structure first, then values, then the network.

A network is one Hypothesis choice: a fixed-length byte string whose fields (_Layout) are the structure
(depth, widths, batch, activations, loss, target kind) and, per matrix, a scale and a number of decimal
places, then one seed. Hypothesis shrinks a byte string byte by byte toward 0, so the structure shrinks
to the fewest layers, the narrowest widths, the smallest batch and the first-listed names, and the
values to scale 1, one decimal and seed 0, i.e. short decimals such as 0.3 or -1.2 in a counterexample.
NumPy's generator fills every matrix from the seed (fast, thousands of entries in one draw), then the
entries are rounded to their decimals and scaled. (Drawn field by field, a network was ~40 Hypothesis
choices at ~85 µs each: see `networks`.)
`arrays()` would shrink every cell to one value; a near-constant matrix hides a transposition, so a
matrix whose entries are (nearly) all equal gets a ramp added (never the case for single entries).

ReLU kinks: a pre-activation at exactly 0 has no derivative; torch, jax and a textbook each pick a
subgradient. Networks are nudged away from kinks (every relu pre-activation at least KINK_MARGIN from 0,
by shifting that unit's bias), so a disagreement there can never be mistaken for an erratum.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from hypothesis import note, reject
from hypothesis.control import current_build_context
from hypothesis import strategies as st

from backprop_audit.model.formula import DEFAULT_TARGETS, Setting
from backprop_audit.model import operations
from backprop_audit.model.network import Layer, Network
from backprop_audit.model.normalization import batch_normalize

SCALES = (1.0, 0.5, 2.0, 0.25, 4.0)  # first is the shrink target
DIGITS = (1, 0, 2, 3, 6)
KINK_MARGIN = 1e-3
RATE_STEPS = 256  # the values of λ (Setting.l2) and η (Setting.eta) drawn in their range, evenly spaced
# Batch normalization's γ = 1 + spread·U(-1, 1) and β = spread·U(-1, 1), two decimals (the first spread is the
# shrink target; never 0: γ = 1, β = 0 would hide a formula that forgets them)
NORM_SPREADS = (0.5, 0.1, 1.0, 2.0)
# How the batch is drawn in a batch-normalized setting: as always, or near-constant (every sample the first one
# plus NEAR_CONSTANT times noise: var ≈ 0 over the batch, where ε dominates √(var + ε))
BATCH_REGIMES = ("spread", "near-constant")
NEAR_CONSTANT = 1e-4


def _fill(rng, shape: tuple[int, ...], dtype, scale: float, places: int) -> np.ndarray:
    """Uniform entries in [-1.5, 1.5] rounded to `places` decimals, times `scale`; never near-constant."""
    return _values(rng.random(int(np.prod(shape))), shape, dtype, scale, places)


def _values(uniform: np.ndarray, shape: tuple[int, ...], dtype, scale: float, places: int) -> np.ndarray:
    """_fill from given uniforms in [0, 1) (the first prod(shape) of them)."""
    m = np.round(-1.5 + 3.0 * uniform[:math.prod(shape)].reshape(shape), places) * scale
    if _constant_rows(m.reshape(1, -1), [m.size])[0]:
        m = _ramped(m, scale)
    return m.astype(dtype)


def _constant_rows(block: np.ndarray, sizes: list[int]) -> np.ndarray:
    """For each row of `block`, whether its first sizes[m] entries are (nearly) all equal: such a matrix
    gets a ramp (_ramped), since a constant matrix hides a transpose."""
    sizes = np.array(sizes)[:, None]
    used = np.arange(block.shape[1]) < sizes
    high, low = np.where(used, block, -np.inf).max(axis=1), np.where(used, block, np.inf).min(axis=1)
    return (sizes[:, 0] > 1) & (high - low <= 1e-3 * (np.maximum(np.abs(high), np.abs(low)) + 1e-3))


def _ramped(m: np.ndarray, scale: float) -> np.ndarray:
    """m plus a ramp 0.1·scale·(1, 2, 3, ...): entries no longer (nearly) all equal."""
    return m + scale * 0.1 * np.arange(1, m.size + 1).reshape(m.shape)


def _fill_targets(rng, kind, shape, dtype, scale: float = 1.0, places: int = 1):
    """Y of `shape` from a NumPy generator (the sweep's draw; the strategy uses _target_values)."""
    if kind == "real":
        return _fill(rng, shape, dtype, scale, places)
    return _target_values(rng.random(int(np.prod(shape))), kind, shape, dtype)


def _target_values(uniform: np.ndarray, kind: str, shape: tuple[int, int], dtype) -> np.ndarray:
    """Y of `shape` from uniforms in [0, 1): one-hot rows, probability rows (sum 1) or {0,1} labels."""
    n, k = shape
    u = uniform[:n * k].reshape(shape)
    if kind in ("onehot", "labels"):  # labels: one-hot Y, read by formulas also as integers (View.labels)
        y = np.zeros(shape)
        y[np.arange(n), np.minimum((u[:, 0] * k).astype(int), k - 1)] = 1
    elif kind == "prob":
        y = np.round(0.05 + 0.95 * u, 2)
        y = y / y.sum(axis=1, keepdims=True)
    elif kind == "binary":
        y = (u < 0.5).astype(float)
    else:
        raise ValueError(f"unknown target kind {kind!r}")
    return y.astype(dtype)


def compatible_targets(loss: str, kinds: tuple[str, ...], losses: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The target kinds of `kinds` drawn with `loss`, one of a setting's `losses` (default: it alone): those that
    suit it (its table row: a cross-entropy wants y in [0, 1], the hinge one class a sample), and, where the setting
    names its kinds itself (not the default kinds), those that suit no loss of the setting: the claim asked for them
    (real targets for softmax_ce: p - y fails there). Dropped silently, as they were, a claim about them held
    unchecked (an outside tester). Where none of them suits `loss` and each suits another loss: all of them."""
    suits = lambda kind, name: kind in operations.loss(name).targets  # noqa: E731
    asked = tuple(kinds) != DEFAULT_TARGETS
    drawn = tuple(k for k in kinds
                  if suits(k, loss) or (asked and not any(suits(k, other) for other in losses or (loss,))))
    return drawn or kinds


def _kinked(name: str) -> bool:
    return name in operations.KINKED_ACTIVATIONS


def _move_off_kinks(layers: list[Layer], X: np.ndarray, p: float | None = None) -> list[Layer]:
    """Shift the biases of units with a kinked activation (relu) so no pre-activation lies within
    KINK_MARGIN of the kink at 0 (float64 forward). With batch normalization the activation's input is
    u = γ ⊙ ẑ + β, which b does not move (the batch mean takes it away): β is shifted instead."""
    a = X.astype(np.float64)
    out = []
    for layer in layers:
        W, b, beta = layer.W, layer.b.copy(), None if layer.beta is None else layer.beta.copy()
        if _kinked(layer.activation):
            for _ in range(4):
                z = _preactivation(a, W, b, layer.gamma, beta)
                close = np.abs(z) < KINK_MARGIN
                if not close.any():
                    break
                if beta is None:
                    b = (b + 4 * KINK_MARGIN * close.any(axis=0)).astype(b.dtype)
                else:
                    beta = (beta + 4 * KINK_MARGIN * close.any(axis=0)).astype(beta.dtype)
        z = _preactivation(a, W, b, layer.gamma, beta)
        out.append(Layer(W, b, layer.activation, layer.gamma, beta, layer.mask))
        a = _dropped64(_activate64(layer.activation, z), layer.mask, p)
    return out


def _preactivation(a, W, b, gamma=None, beta=None):
    """The activation's input in float64: z = a Wᵀ + b, or u = γ ⊙ ẑ + β with batch normalization."""
    z = a @ W.T.astype(np.float64) + b
    if gamma is None:
        return z
    return batch_normalize(z, gamma.astype(np.float64), beta.astype(np.float64)).u


def _dropped64(a, mask, p):
    return a if mask is None else a * mask / (1 - p)


def _activate64(name, z):
    """g(z) of a float64 z (the table's NumPy form), to carry the nudge to the next layer."""
    return operations.activation(name).forward(z)


def _on_kink(layers, X, p: float | None = None) -> bool:
    a = X.astype(np.float64)
    for layer in layers:
        z = _preactivation(a, layer.W, layer.b, layer.gamma, layer.beta)
        if _kinked(layer.activation) and (np.abs(z) < KINK_MARGIN / 2).any():
            return True
        a = _dropped64(_activate64(layer.activation, z), layer.mask, p)
    return False


@st.composite
def architectures(draw, setting: Setting, *, min_depth: int = 1):
    """(widths, batch, activations, loss, target kind) within `setting`."""
    layout = _layout(setting, min_depth, SCALES, SCALES)
    return layout.architecture(draw(_blobs(layout.size)))


@functools.lru_cache(maxsize=None)
def _loss_output_pairs(setting: Setting) -> tuple:
    return tuple((loss, out) for loss in setting.loss for out in setting.output
                 if operations.fits(loss, out))


@functools.lru_cache(maxsize=None)
def _blobs(size: int):
    return st.binary(min_size=size, max_size=size)


class _Field:
    """One field of the network's byte string: `width` bytes read big-endian, mapped onto `span` values."""

    def __init__(self, start: int, span: int):
        self.start, self.span = start, span
        self.width = max(1, (span - 1).bit_length() + 7 >> 3)

    def read(self, blob: bytes) -> int:
        return int.from_bytes(blob[self.start:self.start + self.width], "big") % self.span


class _Layout:
    """Where each choice of a network sits in its byte string, for one setting (built once, cached).

    In the order Hypothesis shrinks them (left to right): depth, widths, batch, loss and output
    activation, hidden activations, target kind, then per matrix (W[l], b[l] for every possible layer,
    X, Y) its scale and its decimal places, then the seed. A byte shrinks toward 0, which decodes to the
    smallest value or the first-listed name: so the shrunk network has the fewest layers, the narrowest
    widths, the smallest batch, the first-listed activations, scale 1, one decimal, seed 0.
    """

    def __init__(self, setting: Setting, min_depth: int, scales: tuple, input_scales: tuple):
        self.setting = setting
        self.depths = (max(setting.depth[0], min_depth), setting.depth[1])
        self.pairs = _loss_output_pairs(setting)
        self.kinds = {loss: compatible_targets(loss, setting.targets, setting.loss) for loss in setting.loss}
        self.scales, self.input_scales = tuple(scales), tuple(input_scales)
        max_depth = self.depths[1]
        self.matrices = 2 * max_depth + 2  # W[l], b[l] for l = 1..max depth, then X, Y
        position = 0

        def field(span: int) -> _Field:
            nonlocal position
            made = _Field(position, span)
            position += made.width
            return made

        self.depth = field(self.depths[1] - self.depths[0] + 1)
        width_span = setting.width[1] - setting.width[0] + 1
        self.widths = [field(width_span) for _ in range(1 if setting.square else max_depth + 1)]
        self.batch = field(setting.batch[1] - setting.batch[0] + 1)
        self.pair = field(len(self.pairs))
        self.hidden = [field(len(setting.hidden)) for _ in range(max_depth - 1)]
        # 4 options, as before "labels" existed, unless a loss has more kinds to choose from: the default
        # setting's bytes decode as they always did
        self.kind = field(max([4] + [len(kinds) for kinds in self.kinds.values()]))
        self.scale = [field(len(self.scales)) for _ in range(2 * max_depth)] + [field(len(self.input_scales)), field(len(SCALES))]
        self.places = [field(len(DIGITS)) for _ in range(self.matrices)]
        self.seed = _Field(position, 2**32)
        position += self.seed.width
        # input_width / output_width, when the setting has them: their own spans, their bytes after the
        # seed (a setting without them keeps the byte string, so the default draws, unchanged)
        self.input_width = None if setting.input_width is None else \
            field(setting.input_width[1] - setting.input_width[0] + 1)
        self.output_width = None if setting.output_width is None else \
            field(setting.output_width[1] - setting.output_width[0] + 1)
        # (scales, byte position) per matrix: W and b take `scales`, X `input_scales`, a real Y the
        # default SCALES; one byte each (<= 256 options)
        options = [self.scales] * (2 * max_depth) + [self.input_scales, SCALES]
        self.scale_of = [(options[m], f.start) for m, f in enumerate(self.scale)]
        self.places_at = [f.start for f in self.places]
        # λ and η, when the setting has them: one byte each, lo + (hi - lo)·k/255, so they shrink toward lo
        self.l2 = None if setting.l2 is None else field(RATE_STEPS)
        self.eta = None if setting.eta is None else field(RATE_STEPS)
        # batch normalization (the spread of γ and β, the batch regime) and dropout (p), when the setting has
        # them: after every other field (a setting without them keeps its byte string); their values come from
        # a generator of their own, seeded by the network's seed, so W, b, X and Y are drawn as without them
        self.spread = field(len(NORM_SPREADS)) if setting.batchnorm else None
        self.regime = field(len(BATCH_REGIMES)) if setting.batchnorm else None
        self.dropout = None if setting.dropout is None else field(RATE_STEPS)
        self.size = position

    def architecture(self, blob: bytes):
        s = self.setting
        depth = self.depths[0] + self.depth.read(blob)
        if s.square:
            widths = [s.width[0] + self.widths[0].read(blob)] * (depth + 1)
        else:
            widths = [s.width[0] + self.widths[i].read(blob) for i in range(depth + 1)]
        if self.input_width is not None:
            widths[0] = s.input_width[0] + self.input_width.read(blob)
        if self.output_width is not None:
            widths[-1] = s.output_width[0] + self.output_width.read(blob)
        batch = s.batch[0] + self.batch.read(blob)
        loss, output = self.pairs[self.pair.read(blob)]
        hidden = [s.hidden[self.hidden[i].read(blob)] for i in range(depth - 1)]
        kinds = self.kinds[loss]
        kind = kinds[self.kind.read(blob) % len(kinds)]
        return widths, batch, hidden + [output], loss, kind

    def rates(self, blob: bytes) -> dict:
        """{"l2": λ, "eta": η} for the setting's ranges (empty without them): evenly spaced in the range,
        to 3 significant digits (0.1, 0.112, ...: readable in a counterexample), never outside it."""
        drawn = {}
        for name, at in (("l2", self.l2), ("eta", self.eta)):
            if at is not None:
                lo, hi = getattr(self.setting, name)
                value = float(f"{lo + (hi - lo) * at.read(blob) / (RATE_STEPS - 1):.3g}")
                drawn[name] = min(max(value, float(lo)), float(hi))
        return drawn

    def dropout_p(self, blob: bytes) -> float | None:
        """p in the setting's dropout range (as λ and η are drawn: evenly spaced, 3 digits), None without it."""
        if self.dropout is None:
            return None
        lo, hi = self.setting.dropout
        value = float(f"{lo + (hi - lo) * self.dropout.read(blob) / (RATE_STEPS - 1):.3g}")
        return min(max(value, float(lo)), float(hi))

    def special_layers(self, blob: bytes, layers: list, X: np.ndarray, p: float | None):
        """The layers with γ, β (batch normalization) and masks (dropout) drawn, and X (near-constant over the
        batch in that regime): from a generator seeded by the network's seed and a tag of its own."""
        if self.spread is None and p is None:
            return layers, X
        rng = np.random.default_rng([self.seed.read(blob), 0x6E6F726D])
        hidden = len(layers) - 1
        out = []
        for l, layer in enumerate(layers, start=1):
            gamma = beta = mask = None
            n = layer.W.shape[0]
            if self.spread is not None and l <= hidden:
                spread = NORM_SPREADS[self.spread.read(blob)]
                gamma = np.round(1 + spread * rng.uniform(-1, 1, n), 2)
                beta = np.round(spread * rng.uniform(-1, 1, n), 2)
            if p is not None and l <= hidden:
                mask = (rng.random((X.shape[0], n)) >= p).astype(np.float64)
            out.append(Layer(layer.W, layer.b, layer.activation, gamma, beta, mask))
        if self.regime is not None and BATCH_REGIMES[self.regime.read(blob)] == "near-constant" and X.shape[0] > 1:
            X = X[:1] + NEAR_CONSTANT * np.round(rng.uniform(-1, 1, X.shape), 2)
        return out, X

    def values(self, blob: bytes, widths, batch, kind, dtype):
        """W[l], b[l] for each layer, X and Y, filled from the seed, scaled and rounded per matrix.

        Row m of one uniform block holds matrix m's entries; the affine map to [-1.5, 1.5], the rounding
        (np.round(x, p) is rint(x·10^p)/10^p) and the scale run once over the whole block, one row per
        matrix, because per-matrix NumPy calls were most of a draw's cost."""
        depth = len(widths) - 1
        max_depth = self.depths[1]
        shapes = [(widths[l // 2 + 1], widths[l // 2]) if l % 2 == 0 else (widths[l // 2 + 1],)
                  for l in range(2 * depth)] + [()] * (2 * (max_depth - depth)) + [(batch, widths[0]), (batch, widths[-1])]
        sizes = [math.prod(shape) if shape else 0 for shape in shapes]
        scale = np.array([options[blob[at] % len(options)] for options, at in self.scale_of])[:, None]
        power = np.array([10.0 ** DIGITS[blob[at] % len(DIGITS)] for at in self.places_at])[:, None]
        # Column-major: the first k draws of the stream give the first entry of every matrix, and so
        # on, so matrix m's first entries do not depend on how large the other matrices are.
        uniform = np.random.default_rng(self.seed.read(blob)).random((max(sizes), self.matrices)).T
        block = np.rint((3.0 * uniform - 1.5) * power) / power * scale
        constant = _constant_rows(block, sizes)

        def matrix(m: int, shape):
            values = block[m, :math.prod(shape)].reshape(shape)
            if constant[m]:
                values = _ramped(values, scale[m, 0])
            return values.astype(dtype)

        layers = [(matrix(2 * (l - 1), (widths[l], widths[l - 1])), matrix(2 * (l - 1) + 1, (widths[l],)))
                  for l in range(1, depth + 1)]
        X = matrix(2 * max_depth, (batch, widths[0]))
        y_row = 2 * max_depth + 1
        if kind == "real":
            Y = matrix(y_row, (batch, widths[-1]))
        else:
            Y = _target_values(uniform[y_row], kind, (batch, widths[-1]), dtype)
        return layers, X, Y


@functools.lru_cache(maxsize=None)
def _layout(setting: Setting, min_depth: int, scales: tuple, input_scales: tuple) -> _Layout:
    return _Layout(setting, min_depth, scales, input_scales)


@st.composite
def networks(draw, setting: Setting = Setting(), *, dtype=np.float64, min_depth: int = 1,
             scales=SCALES, input_scales=SCALES):
    """A Network within `setting`, in `dtype`, nudged off ReLU kinks; its arrays are note()d.

    The whole network is ONE Hypothesis choice, a fixed-length byte string that _Layout decodes field by
    field (network_from_choice). Why: Hypothesis 6.155 costs ~85 µs per choice here (measured: a test
    drawing one integer runs at ~1,560 examples/s, each further integer adds ~85 µs), and a network drawn
    field by field took ~40 choices, capping the search at ~250 networks/s before any check. As one byte
    string it is one choice; Hypothesis shrinks a byte string byte by byte toward 0, so each field still
    shrinks on its own, to the same targets as before (see _Layout).
    """
    layout = network_layout(setting, min_depth, scales, input_scales)
    net = network_from_choice(layout, draw(_blobs(layout.size)), dtype)
    if net is None:
        reject()
    if current_build_context().is_final:  # printing arrays is slow: only for the reported example
        note(f"network: {net.describe()}")
        for l, layer in enumerate(net.layers, start=1):
            note(f"W[{l}] =\n{layer.W}\nb[{l}] = {layer.b}")
            if layer.gamma is not None:
                note(f"gamma[{l}] = {layer.gamma}\nbeta[{l}] = {layer.beta}")
            if layer.mask is not None:
                note(f"mask[{l}] =\n{layer.mask}")
        note(f"X =\n{net.X}\nY =\n{net.Y}")
    return net


def network_layout(setting: Setting = Setting(), min_depth: int = 1, scales=SCALES, input_scales=SCALES) -> "_Layout":
    """The byte layout `networks(setting, min_depth=..., scales=..., input_scales=...)` decodes (built once)."""
    return _layout(setting, min_depth, tuple(scales), tuple(input_scales))


def network_from_choice(layout: "_Layout", blob: bytes, dtype=np.float64) -> Network | None:
    """The network `networks` makes of the byte string `blob` (layout.size bytes), in `dtype`; None where the
    strategy rejects it (a ReLU pre-activation that no nudge moves off its kink)."""
    widths, batch, activations, loss, kind = layout.architecture(blob)
    values, X, Y = layout.values(blob, widths, batch, kind, np.float64)
    layers = [Layer(W, b, activation) for (W, b), activation in zip(values, activations)]
    p = layout.dropout_p(blob)
    layers, X = layout.special_layers(blob, layers, X, p)
    if any(map(_kinked, activations)):
        layers = _move_off_kinks(layers, X, p)
        if _on_kink(layers, X, p):
            return None
    return in_dtype(Network(tuple(layers), loss, X, Y, kind, **layout.rates(blob), dropout=p), dtype)


def in_dtype(net: Network, dtype) -> Network | None:
    """A drawn network (float64) in `dtype`: `networks(dtype=...)` is exactly this of the float64 network
    drawn from the same choices, so one draw serves both dtypes (audit.py draws once per formula).

    Casting can put a nudged ReLU pre-activation back within KINK_MARGIN / 2 of 0 (float32 rounding of
    the bias); such a network is nudged again in `dtype`, and None (the strategy rejects it) if that fails."""
    dtype = np.dtype(dtype)
    if net.dtype == dtype:
        return net
    cast = net.astype(dtype)
    p = cast.dropout
    if not any(_kinked(layer.activation) for layer in cast.layers) or not _on_kink(cast.layers, cast.X, p):
        return cast
    layers = _move_off_kinks(list(cast.layers), cast.X, p)
    if _on_kink(layers, cast.X, p):
        return None
    return Network(tuple(layers), cast.loss, cast.X, cast.Y, cast.targets, l2=cast.l2, eta=cast.eta, dropout=p)
