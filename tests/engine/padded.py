"""Many small networks as one padded stack, so both oracles and the tolerance model run once for a
chunk of Hypothesis examples instead of once per network.

Checking one network costs ~1 ms of framework overhead per oracle (torch builds an autograd graph op by
op, jax dispatches a compiled call) and ~0.4 ms of NumPy calls for the tolerance, whatever the network's
size; for the default distribution (depth <= 4, widths <= 16, batch <= 32) the arithmetic itself is a
few microseconds. So networks that fit are padded into one fixed shape and stacked CHUNK at a time:

- every width to WIDTH, the batch to BATCH, with zeros: padded weights, biases, inputs and targets are 0;
- unit_masks[k] marks the real units of a[k] (k = 0..DEPTH, stack numbering), row_mask the real rows;
  an oracle or the tolerance model must make padded units and rows inert with them (softmax and loss
  over real cells only, means divided by n_true, the true batch size);
- a network shallower than DEPTH gets `prepend` exact identity layers in front (W = I, b = 0, identity
  activation: a @ I + 0 = a exactly), so real layer l sits at stack layer k = l + prepend;
- activations and losses differ from network to network: they are carried as integer codes per network
  (indices into network.ACTIVATIONS and LOSS_NAMES), not as Python names, so one computation serves all;
- slots past the real networks repeat the first network (finite, valid; their results are never read).

Results of a stacked computation are dicts keyed by the *stack* quantity names ("C", "dC/dW[k]", ...,
k = 1..DEPTH) holding arrays with the network axis first; `take` and `NetworkView` read one real
network's canonical quantity back out of them (real layer numbering, real shapes).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .network import ACTIVATIONS, LOSSES, Network, quantity_names

DEPTH, WIDTH, BATCH = 4, 16, 32
CHUNK = 64  # networks per stack: one compiled shape for jax; the last chunk is filled with repeats
LOSS_NAMES = tuple(LOSSES)
IDENTITY = ACTIVATIONS.index("identity")


def fits(net: Network) -> bool:
    """Whether `net` can be padded into the stack shape."""
    return net.depth <= DEPTH and max(net.widths) <= WIDTH and net.batch <= BATCH


@dataclass(frozen=True)
class PaddedStack:
    networks: tuple  # the real networks, at most CHUNK; slot g < len(networks) holds networks[g]
    Ws: tuple  # DEPTH arrays (CHUNK, WIDTH, WIDTH): W of stack layer k = 1..DEPTH at index k - 1
    bs: tuple  # DEPTH arrays (CHUNK, WIDTH)
    X: np.ndarray  # (CHUNK, BATCH, WIDTH)
    Y: np.ndarray  # (CHUNK, BATCH, WIDTH)
    unit_masks: tuple  # DEPTH + 1 boolean arrays (CHUNK, WIDTH): real units of a[k], k = 0..DEPTH
    row_mask: np.ndarray  # (CHUNK, BATCH) boolean: real samples
    n_true: np.ndarray  # (CHUNK,) the true batch size N, in the networks' dtype
    activation_codes: np.ndarray  # (CHUNK, DEPTH) int32: index into network.ACTIVATIONS, per stack layer
    loss_codes: np.ndarray  # (CHUNK,) int32: index into LOSS_NAMES
    prepend: np.ndarray  # (CHUNK,) int: identity layers in front of each network's layer 1

    @property
    def dtype(self) -> np.dtype:
        return self.X.dtype

    @property
    def count(self) -> int:
        return len(self.networks)

    @classmethod
    def of(cls, networks) -> "PaddedStack":
        """Pad and stack 1..CHUNK networks that `fit`, all of one dtype."""
        networks = tuple(networks)
        if not 1 <= len(networks) <= CHUNK:
            raise ValueError(f"a stack holds 1 to {CHUNK} networks, got {len(networks)}")
        dtypes = {str(net.dtype) for net in networks}
        if len(dtypes) != 1:
            raise ValueError(f"a stack holds networks of one dtype, got {sorted(dtypes)}")
        too_big = [net.describe() for net in networks if not fits(net)]
        if too_big:
            raise ValueError(f"network does not fit depth {DEPTH}, width {WIDTH}, batch {BATCH}: {too_big[0]}")
        dtype = networks[0].dtype
        Ws = np.zeros((DEPTH, CHUNK, WIDTH, WIDTH), dtype)
        bs = np.zeros((DEPTH, CHUNK, WIDTH), dtype)
        X = np.zeros((CHUNK, BATCH, WIDTH), dtype)
        Y = np.zeros((CHUNK, BATCH, WIDTH), dtype)
        unit_masks = np.zeros((DEPTH + 1, CHUNK, WIDTH), bool)
        row_mask = np.zeros((CHUNK, BATCH), bool)
        n_true = np.ones(CHUNK, dtype)
        activation_codes = np.full((CHUNK, DEPTH), IDENTITY, np.int32)
        loss_codes = np.zeros(CHUNK, np.int32)
        prepend = np.zeros(CHUNK, np.int64)
        for g in range(CHUNK):
            net = networks[g] if g < len(networks) else networks[0]
            front = DEPTH - net.depth
            widths, N = net.widths, net.batch
            prepend[g] = front
            for k in range(1, front + 1):  # identity layers: W = I on the input's units, b = 0
                Ws[k - 1, g, np.arange(widths[0]), np.arange(widths[0])] = 1
                unit_masks[k, g, :widths[0]] = True
            unit_masks[0, g, :widths[0]] = True
            for l, layer in enumerate(net.layers, start=1):
                k = l + front
                Ws[k - 1, g, :widths[l], :widths[l - 1]] = layer.W
                bs[k - 1, g, :widths[l]] = layer.b
                unit_masks[k, g, :widths[l]] = True
                activation_codes[g, k - 1] = ACTIVATIONS.index(layer.activation)
            X[g, :N, :widths[0]] = net.X
            Y[g, :N, :widths[-1]] = net.Y
            row_mask[g, :N] = True
            n_true[g] = N
            loss_codes[g] = LOSS_NAMES.index(net.loss)
        return cls(networks, tuple(Ws), tuple(bs), X, Y, tuple(unit_masks), row_mask, n_true,
                   activation_codes, loss_codes, prepend)

    def real_mask(self, stack_quantity: str) -> np.ndarray:
        """Boolean array of the stacked quantity's shape (network axis first): True at entries that
        belong to a real quantity of a real network (not padding, not an identity layer, not a repeat slot)."""
        slots = np.arange(CHUNK) < self.count
        if stack_quantity == "C":
            return slots
        kind, k = _parse(stack_quantity)
        real_layer = slots & (k > self.prepend)
        units = self.unit_masks[k]
        if kind == "dC/dW":
            mask = units[:, :, None] & self.unit_masks[k - 1][:, None, :]
        elif kind == "dC/db":
            mask = units
        else:  # dC/dz, dC/da: (rows, units)
            mask = self.row_mask[:, :, None] & units[:, None, :]
        return mask & real_layer.reshape((CHUNK,) + (1,) * (mask.ndim - 1))

    def take(self, stacked: Mapping, g: int, quantity: str) -> np.ndarray:
        """Network g's canonical `quantity` (real layer numbering) from a dict of stacked results."""
        if quantity == "C":
            return stacked["C"][g]
        kind, l = _parse(quantity)
        net = self.networks[g]
        k = l + int(self.prepend[g])
        out, inp, N = net.widths[l], net.widths[l - 1], net.batch
        value = stacked[f"{kind}[{k}]"]
        if kind == "dC/dW":
            return value[g, :out, :inp]
        if kind == "dC/db":
            return value[g, :out]
        return value[g, :N, :out]


def _parse(quantity: str) -> tuple[str, int]:
    kind, layer = quantity[:-1].split("[")
    return kind, int(layer)


class NetworkView(Mapping):
    """One network's canonical quantities, read lazily out of stacked results: a stand-in for the
    {quantity: array} dict an oracle returns for that network alone (only what is read gets sliced)."""

    def __init__(self, stack: PaddedStack, stacked: Mapping, g: int):
        self.stack, self.stacked, self.g = stack, stacked, g
        self.names = quantity_names(stack.networks[g].depth)

    def __getitem__(self, quantity: str):
        if quantity not in self.names:
            raise KeyError(quantity)
        return self.stack.take(self.stacked, self.g, quantity)

    def __iter__(self):
        return iter(self.names)

    def __len__(self):
        return len(self.names)


def chunks(networks, size: int = CHUNK):
    """Consecutive runs of at most `size` networks."""
    networks = list(networks)
    for start in range(0, len(networks), size):
        yield networks[start:start + size]
