"""The network: the one canonical form every formula, oracle and report reads.

Canonical layout (documents that write otherwise are converted in `convention.py`, nowhere else):

- layers are numbered 1..L, as documents 001 and 003 number them; a[0] is the input X;
- W[l] has shape (out, in) and b[l] shape (out,), so  z[l] = a[l-1] @ W[l].T + b[l];
- a batch is stored row by row: X has shape (N, n0), Y and a[L] have shape (N, nL).

The activations and the loss C are rows of the operation table (operations.py); every loss is written
as a function of the output activation a[L] (the cross-entropies compute log a[L] from the logits for
stability, which is the same function).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from backprop_audit.model import operations

DTYPES = ("float64", "float32")


class NetworkError(ValueError):
    """A network that is not well formed (shapes, names, dtypes disagree)."""


@dataclass(frozen=True)
class Layer:
    W: np.ndarray  # (out, in)
    b: np.ndarray  # (out,)
    activation: str
    # batch normalization after the dense layer (model/normalization.py): γ, β of shape (out,), both or
    # neither, on every hidden layer of a network or none (the output layer never); None: no batch norm
    gamma: np.ndarray | None = None
    beta: np.ndarray | None = None
    # the dropout mask after the activation, (N, out) of 0/1 in the network's dtype (Network.dropout is p,
    # the probability of dropping); None: no dropout. On every hidden layer of a network with dropout.
    mask: np.ndarray | None = None

    def cast(self, dtype) -> "Layer":
        as_dtype = lambda x: None if x is None else np.asarray(x, dtype=dtype)
        return Layer(as_dtype(self.W), as_dtype(self.b), self.activation, as_dtype(self.gamma),
                     as_dtype(self.beta), as_dtype(self.mask))

    def extra_arrays(self) -> list:
        """γ, β and the mask where present (what the fingerprint adds for a layer with them)."""
        return [x for x in (self.gamma, self.beta, self.mask) if x is not None]


@dataclass(frozen=True)
class Network:
    layers: tuple[Layer, ...]
    loss: str
    X: np.ndarray  # (N, n0)
    Y: np.ndarray  # (N, nL)
    targets: str = "real"  # how Y was drawn: real, onehot, prob, binary (for reports and preconditions)
    notes: dict = field(default_factory=dict, compare=False)
    # C = loss + (l2/2) Σ_l ‖W[l]‖² (model/regularizers.py; 0: no term), and the learning rate η of one
    # gradient-descent step W' = W - η·dC/dW (None: the network has no step quantities W'[l], b'[l])
    l2: float = 0.0
    eta: float | None = None
    # p of inverted dropout (the probability of dropping a unit, torch's convention); each hidden layer then
    # has its mask. None: no dropout. (Batch normalization is on the layers: Layer.gamma, Layer.beta.)
    dropout: float | None = None

    def __post_init__(self):
        validate(self)
        # read thousands of times per check (shapes, tolerances, stacks): computed once, the network is frozen
        object.__setattr__(self, "_widths", (self.X.shape[1],) + tuple(layer.W.shape[0] for layer in self.layers))

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def batch(self) -> int:
        return self.X.shape[0]

    @property
    def widths(self) -> tuple[int, ...]:
        return self._widths

    @property
    def dtype(self) -> np.dtype:
        return self.X.dtype

    @property
    def batchnorm(self) -> bool:
        """Whether the hidden layers are batch-normalized (Layer.gamma, Layer.beta)."""
        return self.layers[0].gamma is not None and len(self.layers) > 1

    @property
    def special_layers(self) -> bool:
        """Batch normalization or dropout: what the padded stacks, the sweep and the measured count (the
        term-by-term backprop) do not compute; such a network takes the single-network path."""
        return self.batchnorm or self.dropout is not None

    @property
    def hidden_activations(self) -> tuple[str, ...]:
        return tuple(layer.activation for layer in self.layers[:-1])

    @property
    def output_activation(self) -> str:
        return self.layers[-1].activation

    def W(self, l: int) -> np.ndarray:
        """W[l] for l in 1..L, the document numbering."""
        return self.layers[l - 1].W

    def b(self, l: int) -> np.ndarray:
        return self.layers[l - 1].b

    def astype(self, dtype) -> "Network":
        cast = lambda x: np.asarray(x, dtype=dtype)
        layers = tuple(layer.cast(dtype) for layer in self.layers)
        return Network(layers, self.loss, cast(self.X), cast(self.Y), self.targets, dict(self.notes), self.l2, self.eta,
                       self.dropout)

    def in_extended_precision(self) -> "Network":
        """The same numbers as np.longdouble (x86: a 64-bit significand and exponents to ±4932, against float64's
        53 bits and ±308), for replaying a formula only (verdicts/numerical.py: is its NaN one of float64's range,
        or of the formula?). Not a network the engine checks: no oracle, stack or tolerance takes this dtype, so
        it is made past validate(), which admits float64 and float32 only."""
        extended = lambda x: None if x is None else np.asarray(x, dtype=np.longdouble)
        layers = []
        for layer in self.layers:
            copy = object.__new__(type(layer))
            copy.__dict__.update({name: extended(value) if isinstance(value, np.ndarray) else value
                                  for name, value in layer.__dict__.items()})
            layers.append(copy)
        network = object.__new__(Network)
        network.__dict__.update({name: value for name, value in self.__dict__.items() if name != "_fingerprint"})
        network.__dict__.update(layers=tuple(layers), X=extended(self.X), Y=extended(self.Y))
        return network

    def fingerprint(self) -> bytes:
        """A digest of everything a check reads (structure, loss, targets, dtype, every entry): two networks
        with the same fingerprint get the same outcome from every formula and oracle. Computed once (the
        network is frozen): a run's memory keys by it every time a network is checked."""
        found = self.__dict__.get("_fingerprint")
        if found is None:
            digest = hashlib.blake2b(self.describe().encode(), digest_size=16)
            for array in [a for layer in self.layers for a in (layer.W, layer.b)] + [self.X, self.Y]:
                digest.update(np.ascontiguousarray(array).tobytes())
            for array in [a for layer in self.layers for a in layer.extra_arrays()]:  # after: none, digest as before
                digest.update(np.ascontiguousarray(array).tobytes())
            found = digest.digest()
            object.__setattr__(self, "_fingerprint", found)
        return found

    def describe(self) -> str:
        acts = "/".join(layer.activation for layer in self.layers)
        # l2 and eta only when set: an unregularized network without a step is described (and
        # fingerprinted) as before
        extra = (f", l2 {self.l2!r}" if self.l2 else "") + (f", eta {self.eta!r}" if self.eta is not None else "")
        extra += (", batchnorm" if self.batchnorm else "") + (f", dropout p {self.dropout!r}" if self.dropout is not None else "")
        return (f"widths {list(self.widths)}, batch {self.batch}, activations {acts}, "
                f"loss {self.loss}{extra}, targets {self.targets}, {self.dtype}")


def smallest(depth: int = 1, dtype=np.float64) -> Network:
    """A network of `depth` sigmoid layers of one unit, all weights and data 1: the cheapest call that
    makes an oracle compile (or load) its executable for the small-network bucket."""
    one = np.ones((1, 1), dtype=dtype)
    layers = tuple(Layer(one.copy(), np.zeros(1, dtype=dtype), "sigmoid") for _ in range(depth))
    return Network(layers, "half_sum_sq", one.copy(), one.copy())


def validate(net: Network) -> None:
    """Raise NetworkError naming the first thing that is wrong."""
    if not net.layers:
        raise NetworkError("a network needs at least one layer")
    if net.loss not in operations.LOSSES:
        raise NetworkError(f"unknown loss {net.loss!r}; known: {', '.join(operations.LOSSES)}")
    X, Y = net.X, net.Y
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise NetworkError(f"X must have shape (N, n0) with N, n0 >= 1, got {X.shape}")
    dtypes = {np.dtype(X.dtype), np.dtype(Y.dtype)}
    width = X.shape[1]
    for l, layer in enumerate(net.layers, start=1):
        if layer.activation not in operations.ACTIVATIONS:
            raise NetworkError(f"layer {l}: unknown activation {layer.activation!r}; "
                               f"known: {', '.join(operations.ACTIVATIONS)}")
        if layer.activation not in operations.HIDDEN_ACTIVATIONS and l != len(net.layers):
            raise NetworkError(f"layer {l}: {layer.activation} is only an output activation")
        if layer.W.ndim != 2 or layer.W.shape[1] != width:
            raise NetworkError(f"layer {l}: W must have shape (out, {width}), got {layer.W.shape}")
        if layer.b.shape != (layer.W.shape[0],):
            raise NetworkError(f"layer {l}: b must have shape ({layer.W.shape[0]},), got {layer.b.shape}")
        dtypes |= {np.dtype(layer.W.dtype), np.dtype(layer.b.dtype)}
        width = layer.W.shape[0]
    if Y.shape != (X.shape[0], width):
        raise NetworkError(f"Y must have shape ({X.shape[0]}, {width}), got {Y.shape}")
    if len(dtypes) != 1 or str(next(iter(dtypes))) not in DTYPES:
        raise NetworkError(f"all arrays must share one dtype of {DTYPES}, got {sorted(map(str, dtypes))}")
    finite = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
    if not finite(net.l2) or net.l2 < 0:
        raise NetworkError(f"l2 must be a finite number >= 0 (λ of (λ/2) Σ ‖W‖²), got {net.l2!r}")
    if net.eta is not None and (not finite(net.eta) or net.eta <= 0):
        raise NetworkError(f"eta must be a finite number > 0 (the learning rate of W - η·dC/dW) or None, got {net.eta!r}")
    _validate_layers(net)
    if not operations.fits(net.loss, net.layers[-1].activation):
        raise NetworkError(f"loss {net.loss} needs output activation {operations.loss(net.loss).output}, "
                           f"got {net.layers[-1].activation}")


def _validate_layers(net: Network) -> None:
    """Batch normalization and dropout: on every hidden layer or none, never on the output layer; shapes, 0/1
    masks, 0 <= p < 1."""
    hidden, output = net.layers[:-1], net.layers[-1]
    if output.gamma is not None or output.beta is not None or output.mask is not None:
        raise NetworkError("the output layer has no batch normalization and no dropout mask (gamma, beta, mask None)")
    normalized = [layer.gamma is not None for layer in hidden]
    if any(normalized) and not all(normalized):
        raise NetworkError("batch normalization is on every hidden layer or none: some layers have gamma, some not")
    for l, layer in enumerate(hidden, start=1):
        n = layer.W.shape[0]
        if (layer.gamma is None) != (layer.beta is None):
            raise NetworkError(f"layer {l}: gamma and beta come together (batch normalization), got one of them")
        for name in ("gamma", "beta"):
            value = getattr(layer, name)
            if value is not None and (value.shape != (n,) or value.dtype != net.X.dtype):
                raise NetworkError(f"layer {l}: {name} must have shape ({n},) and dtype {net.X.dtype}, got "
                                   f"{value.shape} {value.dtype}")
        if (layer.mask is None) != (net.dropout is None):
            raise NetworkError(f"layer {l}: a network with dropout p has a mask on every hidden layer, and one "
                               f"without has none (dropout {net.dropout!r}, mask {'set' if layer.mask is not None else 'None'})")
        if layer.mask is not None:
            mask = layer.mask
            if mask.shape != (net.batch, n) or mask.dtype != net.X.dtype or not np.all((mask == 0) | (mask == 1)):
                raise NetworkError(f"layer {l}: the dropout mask must be 0/1 of shape ({net.batch}, {n}) in "
                                   f"{net.X.dtype}, got {mask.shape} {mask.dtype}")
    if net.dropout is not None:
        p = net.dropout
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not (0 <= p < 1):
            raise NetworkError(f"dropout must be p with 0 <= p < 1 (the probability of dropping a unit) or None, got {p!r}")
