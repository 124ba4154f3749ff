"""The power of a check at three sizes: the smallest relative error of a ×(1 + ε) mistake of a correct dC/dW
that the engine's check would detect (tolerance.detects, over every layer's dC/dW), in both dtypes.

The networks are one tanh hidden layer and a softmax cross-entropy output, weights uniform in ±1.5/√fan-in,
biases in ±½, inputs in ±1.5, one-hot targets (seed 0): sizes of a small test network, of a classifier, and
of a large one. trust.json carries the list as `power`.
"""
from __future__ import annotations

import numpy as np

from backprop_audit.judging import tolerance
from backprop_audit.judging.memory import RunMemory
from backprop_audit.judging.reference import reference
from backprop_audit.model.network import Layer, Network

SIZES = (([8, 16, 4], 8), ([64, 512, 10], 128), ([256, 4096, 10], 1024))


def classifier(widths, batch, dtype, seed: int = 0) -> Network:
    rng = np.random.default_rng(seed)
    layers = []
    for l in range(1, len(widths)):
        W = rng.uniform(-1.5, 1.5, (widths[l], widths[l - 1])) / np.sqrt(widths[l - 1])
        b = rng.uniform(-0.5, 0.5, widths[l])
        layers.append(Layer(W.astype(dtype), b.astype(dtype), "tanh" if l < len(widths) - 1 else "softmax"))
    X = rng.uniform(-1.5, 1.5, (batch, widths[0])).astype(dtype)
    Y = np.eye(widths[-1])[rng.integers(0, widths[-1], batch)].astype(dtype)
    return Network(tuple(layers), "softmax_ce", X, Y, "onehot")


def smallest_relative_error_detected(net: Network) -> float:
    """min over every dC/dW[l] of tolerance.detects, with the tolerance and reference evaluate() judges
    `net` with (judging/reference.py: the measured count on networks with long sums)."""
    judged = reference(net, RunMemory())
    truth = next(iter(judged.answers.values()))
    return min(tolerance.detects(tolerance.tolerance_for(judged.tolerances[q], truth[q]), truth[q])
               for q in (f"dC/dW[{l}]" for l in range(1, net.depth + 1)))


def power_table() -> list[dict]:
    return [{"widths": widths, "batch": batch, "dtype": dtype,
             "smallest_relative_error_detected": smallest_relative_error_detected(classifier(widths, batch, dtype))}
            for widths, batch in SIZES for dtype in ("float64", "float32")]
