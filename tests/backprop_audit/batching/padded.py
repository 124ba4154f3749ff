"""Many small networks as one padded stack, so both oracles and the tolerance model run once for a
chunk of Hypothesis examples instead of once per network.

Checking one network costs ~1 ms of framework overhead per oracle (torch builds an autograd graph op by
op, jax dispatches a compiled call) and ~0.4 ms of NumPy calls for the tolerance, whatever the network's
size; for the default distribution (depth <= 4, widths <= 16, batch <= 32) the arithmetic itself is a
few microseconds. So networks that fit (depth <= DEPTH, widths <= WIDTH, batch <= BATCH) are padded to
one shape and stacked, at most CHUNK at a time:

- the stack is as small as its networks allow: its depth is their largest depth, stack layer k is as
  wide as the widest network there, the batch is their largest batch (so grouping networks of similar
  size into one stack wastes little; an oracle that needs one fixed shape, jax, pads further itself);
- padded weights, biases, inputs and targets are 0; unit_masks[k] marks the real units of a[k] (k = 0..
  depth, stack numbering), row_mask the real rows; an oracle or the tolerance model must make padded
  units and rows inert with them (softmax and loss over real cells only, means divided by n_true, the
  true batch size);
- a network shallower than the stack gets `prepend` exact identity layers in front (W = I, b = 0,
  identity activation: a @ I + 0 = a exactly), so real layer l sits at stack layer k = l + prepend;
- activations and losses differ from network to network: they are carried as integer codes per network
  (indices into operations.ACTIVATIONS and LOSS_NAMES), not as Python names, so one computation serves all.

Results of a stacked computation are dicts keyed by the *stack* quantity names ("C", "dC/dW[k]", ...,
k = 1..depth) holding arrays with the network axis first; `take` and `NetworkView` read one real
network's canonical quantity back out of them (real layer numbering, real shapes).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from backprop_audit.model.network import Network
from backprop_audit.model.operations import ACTIVATIONS, LOSSES
from backprop_audit.model.quantity import Quantity, quantity_names

DEPTH, WIDTH, BATCH = 4, 16, 32
CHUNK = 64  # networks per stack at most (jax pads every stack to this count: one compiled shape)
LOSS_NAMES = tuple(LOSSES)
IDENTITY = ACTIVATIONS.index("identity")


def fits(net: Network) -> bool:
    """Whether `net` can be padded into the stack shape. A network with batch normalization or dropout never
    does: the stacked oracles (torch and jax) and the padded tolerance do not compute those layers, so
    check_many routes such a network to the single-network path (evaluate), which does."""
    return net.depth <= DEPTH and max(net.widths) <= WIDTH and net.batch <= BATCH and not net.special_layers


@dataclass(frozen=True)
class PaddedStack:
    networks: tuple  # the real networks, at most CHUNK; slot g holds networks[g]
    Ws: tuple  # one array per stack layer k = 1..depth (at index k - 1): (count, width[k], width[k-1])
    bs: tuple  # (count, width[k])
    X: np.ndarray  # (count, batch, width[0])
    Y: np.ndarray  # (count, batch, width[depth])
    unit_masks: tuple  # depth + 1 boolean arrays (count, width[k]): real units of a[k], k = 0..depth
    row_mask: np.ndarray  # (count, batch) boolean: real samples
    n_true: np.ndarray  # (count,) the true batch size N, in the networks' dtype
    activation_codes: np.ndarray  # (count, depth) int32: index into operations.ACTIVATIONS, per stack layer
    loss_codes: np.ndarray  # (count,) int32: index into LOSS_NAMES
    prepend: np.ndarray  # (count,) int: identity layers in front of each network's layer 1
    l2: np.ndarray  # (count,) λ of each network's L2 term, float64 as the network holds it (0: none)
    eta: np.ndarray  # (count,) each network's learning rate η, float64 (0 for a network without one)
    steps: bool  # whether the networks have an η: the stack's oracles return W'[k], b'[k] too

    # (a stack holds networks that all have an η or none: a search's networks share one setting)

    @property
    def dtype(self) -> np.dtype:
        return self.X.dtype

    @property
    def count(self) -> int:
        return len(self.networks)

    @property
    def depth(self) -> int:
        return len(self.Ws)

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(mask.shape[1] for mask in self.unit_masks)

    @property
    def batch(self) -> int:
        return self.X.shape[1]

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
        dtype, count = networks[0].dtype, len(networks)
        depth = max(net.depth for net in networks)
        # the width of stack layer k: the widest network there (an identity layer in front is as wide as the input)
        widths = [max(net.widths[max(k - (depth - net.depth), 0)] for net in networks) for k in range(depth + 1)]
        batch = max(net.batch for net in networks)
        Ws = [np.zeros((count, widths[k], widths[k - 1]), dtype) for k in range(1, depth + 1)]
        bs = [np.zeros((count, widths[k]), dtype) for k in range(1, depth + 1)]
        X = np.zeros((count, batch, widths[0]), dtype)
        Y = np.zeros((count, batch, widths[-1]), dtype)
        unit_masks = [np.zeros((count, width), bool) for width in widths]
        row_mask = np.zeros((count, batch), bool)
        n_true = np.ones(count, dtype)
        activation_codes = np.full((count, depth), IDENTITY, np.int32)
        loss_codes = np.zeros(count, np.int32)
        prepend = np.zeros(count, np.int64)
        steps = {net.eta is not None for net in networks}
        if len(steps) != 1:
            raise ValueError("a stack holds networks that all have a learning rate eta, or none")
        l2 = np.array([net.l2 for net in networks], np.float64)  # each oracle casts them to its dtype
        eta = np.array([net.eta or 0.0 for net in networks], np.float64)
        for g, net in enumerate(networks):
            front = depth - net.depth
            n0, N = net.widths[0], net.batch
            prepend[g] = front
            unit_masks[0][g, :n0] = True
            for k in range(1, front + 1):  # identity layers: W = I on the input's units, b = 0
                Ws[k - 1][g, np.arange(n0), np.arange(n0)] = 1
                unit_masks[k][g, :n0] = True
            for l, layer in enumerate(net.layers, start=1):
                k = l + front
                out, inp = layer.W.shape
                Ws[k - 1][g, :out, :inp] = layer.W
                bs[k - 1][g, :out] = layer.b
                unit_masks[k][g, :out] = True
                activation_codes[g, k - 1] = ACTIVATIONS.index(layer.activation)
            X[g, :N, :n0] = net.X
            Y[g, :N, :net.widths[-1]] = net.Y
            row_mask[g, :N] = True
            n_true[g] = N
            loss_codes[g] = LOSS_NAMES.index(net.loss)
        return cls(networks, tuple(Ws), tuple(bs), X, Y, tuple(unit_masks), row_mask, n_true,
                   activation_codes, loss_codes, prepend, l2, eta, steps.pop())

    def real_mask(self, stack_quantity: str) -> np.ndarray:
        """Boolean array of the stacked quantity's shape (network axis first): True at entries that
        belong to a real quantity of a network (not padding, not an identity layer in front)."""
        q = Quantity.parse(stack_quantity)
        if q.is_cost:
            return np.ones(self.count, bool)
        kind, k = q.parameter, q.layer  # W'[k], b'[k] are as real as W[k], b[k]
        real_layer = k > self.prepend
        units = self.unit_masks[k]
        if kind == "W":
            mask = units[:, :, None] & self.unit_masks[k - 1][:, None, :]
        elif kind == "b":
            mask = units
        else:  # dC/dz, dC/da: (rows, units)
            mask = self.row_mask[:, :, None] & units[:, None, :]
        return mask & real_layer.reshape((self.count,) + (1,) * (mask.ndim - 1))

    def take(self, stacked: Mapping, g: int, quantity: str) -> np.ndarray:
        """Network g's canonical `quantity` (real layer numbering) from a dict of stacked results."""
        q = Quantity.parse(quantity)
        if q.is_cost:
            return stacked["C"][g]
        net, l = self.networks[g], q.layer
        out, inp, N = net.widths[l], net.widths[l - 1], net.batch
        value = stacked[str(self.in_stack(g, q))]
        if q.parameter == "W":
            return value[g, :out, :inp]
        if q.parameter == "b":
            return value[g, :out]
        return value[g, :N, :out]

    def in_stack(self, g: int, quantity: Quantity) -> Quantity:
        """Network g's `quantity` as the stack numbers it (its layer l is stack layer l + prepend)."""
        return quantity.in_stack(int(self.prepend[g]))

    def of_network(self, g: int, stack_quantity: Quantity) -> Quantity:
        """The inverse of in_stack: network g's own quantity for a stack quantity."""
        return stack_quantity.out_of_stack(int(self.prepend[g]))


class NetworkView(Mapping):
    """One network's canonical quantities, read lazily out of stacked results: a stand-in for the
    {quantity: array} dict an oracle returns for that network alone (only what is read gets sliced)."""

    def __init__(self, stack: PaddedStack, stacked: Mapping, g: int):
        self.stack, self.stacked, self.g = stack, stacked, g
        self.names = quantity_names(stack.networks[g].depth, stack.steps)
        self.read: dict = {}

    def __getitem__(self, quantity: str):
        if quantity not in self.read:
            if quantity not in self.names:
                raise KeyError(quantity)
            self.read[quantity] = self.stack.take(self.stacked, self.g, quantity)
        return self.read[quantity]

    def __iter__(self):
        return iter(self.names)

    def __len__(self):
        return len(self.names)


def chunks(networks, size: int = CHUNK):
    """Consecutive runs of at most `size` networks."""
    networks = list(networks)
    for start in range(0, len(networks), size):
        yield networks[start:start + size]
