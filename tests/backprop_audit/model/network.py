"""The network: the one canonical form every formula, oracle and report reads.

Canonical layout (documents that write otherwise are converted in `convention.py`, nowhere else):

- layers are numbered 1..L, as documents 001 and 003 number them; a[0] is the input X;
- W[l] has shape (out, in) and b[l] shape (out,), so  z[l] = a[l-1] @ W[l].T + b[l];
- a batch is stored row by row: X has shape (N, n0), Y and a[L] have shape (N, nL).

The loss C is one of LOSSES; all are written as functions of the output activation a[L]
(the cross-entropies compute log a[L] from the logits for stability, which is the same function).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity")
OUTPUT_ACTIVATIONS = ("sigmoid", "softmax", "tanh", "identity")
ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity", "softmax")

# name -> C as a function of the output a = a[L] (shape (N, K)) and targets y, written out.
LOSSES = {
    "sum_sq": "C = Σ_n Σ_k (a - y)²",
    "half_sum_sq": "C = ½ Σ_n Σ_k (a - y)²",
    "mean_sum_sq": "C = (1/N) Σ_n Σ_k (a - y)²",
    "mean_half_sum_sq": "C = (1/N) Σ_n ½ Σ_k (a - y)²",
    "softmax_ce": "C = -(1/N) Σ_n Σ_k y log softmax(z[L]) ; output activation softmax",
    "sigmoid_bce": "C = -(1/N) Σ_n Σ_k [y log σ(z[L]) + (1-y) log(1-σ(z[L]))] ; output sigmoid",
}
# A cross-entropy loss is only defined on top of its own output activation.
LOSS_NEEDS_OUTPUT = {"softmax_ce": "softmax", "sigmoid_bce": "sigmoid"}
DTYPES = ("float64", "float32")


class NetworkError(ValueError):
    """A network that is not well formed (shapes, names, dtypes disagree)."""


@dataclass(frozen=True)
class Layer:
    W: np.ndarray  # (out, in)
    b: np.ndarray  # (out,)
    activation: str


@dataclass(frozen=True)
class Network:
    layers: tuple[Layer, ...]
    loss: str
    X: np.ndarray  # (N, n0)
    Y: np.ndarray  # (N, nL)
    targets: str = "real"  # how Y was drawn: real, onehot, prob, binary (for reports and preconditions)
    notes: dict = field(default_factory=dict, compare=False)

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
        layers = tuple(Layer(cast(L.W), cast(L.b), L.activation) for L in self.layers)
        return Network(layers, self.loss, cast(self.X), cast(self.Y), self.targets, dict(self.notes))

    def fingerprint(self) -> bytes:
        """A digest of everything a check reads (structure, loss, targets, dtype, every entry): two networks
        with the same fingerprint get the same outcome from every formula and oracle. Computed once (the
        network is frozen): a run's memory keys by it every time a network is checked."""
        found = self.__dict__.get("_fingerprint")
        if found is None:
            digest = hashlib.blake2b(self.describe().encode(), digest_size=16)
            for array in [a for layer in self.layers for a in (layer.W, layer.b)] + [self.X, self.Y]:
                digest.update(np.ascontiguousarray(array).tobytes())
            found = digest.digest()
            object.__setattr__(self, "_fingerprint", found)
        return found

    def describe(self) -> str:
        acts = "/".join(layer.activation for layer in self.layers)
        return (f"widths {list(self.widths)}, batch {self.batch}, activations {acts}, "
                f"loss {self.loss}, targets {self.targets}, {self.dtype}")


def smallest(depth: int = 1, dtype=np.float64) -> Network:
    """A network of `depth` sigmoid layers of one unit, all weights and data 1: the cheapest call that
    makes an oracle compile (or load) its executable for the small-network bucket."""
    one = np.ones((1, 1), dtype=dtype)
    layers = tuple(Layer(one.copy(), np.zeros(1, dtype=dtype), "sigmoid") for _ in range(depth))
    return Network(layers, "half_sum_sq", one.copy(), one.copy())


def quantity_names(depth: int) -> list[str]:
    """Every quantity an oracle returns for a network of this depth, keyed as in DESIGN.md."""
    names = ["C"]
    for l in range(1, depth + 1):
        names += [f"dC/dW[{l}]", f"dC/db[{l}]", f"dC/dz[{l}]", f"dC/da[{l}]"]
    return names


def validate(net: Network) -> None:
    """Raise NetworkError naming the first thing that is wrong."""
    if not net.layers:
        raise NetworkError("a network needs at least one layer")
    if net.loss not in LOSSES:
        raise NetworkError(f"unknown loss {net.loss!r}; known: {', '.join(LOSSES)}")
    X, Y = net.X, net.Y
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise NetworkError(f"X must have shape (N, n0) with N, n0 >= 1, got {X.shape}")
    dtypes = {np.dtype(X.dtype), np.dtype(Y.dtype)}
    width = X.shape[1]
    for l, layer in enumerate(net.layers, start=1):
        if layer.activation not in ACTIVATIONS:
            raise NetworkError(f"layer {l}: unknown activation {layer.activation!r}; known: {', '.join(ACTIVATIONS)}")
        if layer.activation == "softmax" and l != len(net.layers):
            raise NetworkError(f"layer {l}: softmax is only an output activation")
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
    needed = LOSS_NEEDS_OUTPUT.get(net.loss)
    if needed and net.layers[-1].activation != needed:
        raise NetworkError(f"loss {net.loss} needs output activation {needed}, got {net.layers[-1].activation}")
