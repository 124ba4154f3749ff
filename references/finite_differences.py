"""Oracle 3, the tie-breaker: central finite differences in float64.

Used only when torch and jax disagree beyond tolerance: it decides which of the two to keep, and the
disagreement is always reported (never silently resolved). It needs only the loss value C, computed in
float64 from the operation table's NumPy forms of the activations and losses (backprop_audit.model.
operations, the forms the manual forward pass uses too; nothing of torch or jax). It takes differences
of C, no derivative, so it shares no backward arithmetic with any formula or oracle. One parameter at a time:

    dC/dθ ≈ (C(θ + h) - C(θ - h)) / 2h,   h = ε^(1/3)·max(1, |θ|),

whose error is O(h²) truncation plus O(ε·|C|/h) rounding, about 1e-10 relative in float64: far below
any disagreement worth deciding (an oracle bug is O(|g|)), far above what it can split when the two
oracles differ only in the last bits (then the decision is "undecided" and that is reported).

dC/dz[l] has no parameter of its own, but the bias is a probe on it one sample at a time: on the network
cut down to sample n alone, ∂C_n/∂b[l] = ∂c_n/∂z[l][n], and C = w·Σ_n c_n with w = 1/N for the mean
losses (every cross-entropy here is a mean), 1 for the sums. dC/da[l] = dC/dz[l+1] @ W[l+1] for l < L;
dC/da[L] is "undecided" (an a-probe at the output would need the oracles' probe forms).

A local Jacobian (model/quantity.py) is the central difference of its layer's own function (g, W a + b or
g(W a + b), the table's NumPy forms) at the network's float64 forward values, one sample and one entry of its
denominator at a time.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from backprop_audit.model import operations
from backprop_audit.model.network import Network
from backprop_audit.model.quantity import Quantity
from backprop_audit.model.regularizers import L2

DECISION_SHARE = 0.25  # the kept oracle must be within a quarter of the torch-jax gap of the differences
MAX_PROBES = 4000  # loss evaluations one decision may cost; beyond it (a 512-wide layer) it is "undecided"


def loss(net: Network) -> float:
    """C of `net` in float64: the forward pass, then the loss (the table's NumPy forms)."""
    a = net.X.astype(np.float64)
    z = a
    with np.errstate(over="ignore", under="ignore"):
        for layer in net.layers:
            z = a @ layer.W.astype(np.float64).T + layer.b.astype(np.float64)
            a = operations.activation(layer.activation).forward(z)
        C = float(operations.loss(net.loss).numpy(z, a, net.Y.astype(np.float64), net.batch))
        return C + sum(float(L2.numpy(layer.W.astype(np.float64), net.l2)) for layer in net.layers) if net.l2 else C


def _with_parameter(net: Network, layer: int, which: str, index: tuple, value: float) -> Network:
    layers = list(net.layers)
    current = layers[layer - 1]
    array = getattr(current, which).copy()
    array[index] = value
    layers[layer - 1] = replace(current, **{which: array})
    return replace(net, layers=tuple(layers))


def gradient(net: Network, layer: int, which: str, loss_of=loss) -> np.ndarray:
    """dC/dW[layer] (which='W') or dC/db[layer] (which='b') by central differences of loss_of(net)."""
    net = net.astype(np.float64)
    base = getattr(net.layers[layer - 1], which)
    out = np.zeros_like(base)
    for index in np.ndindex(base.shape):
        theta = base[index]
        h = np.finfo(np.float64).eps ** (1 / 3) * max(1.0, abs(theta))
        plus = loss_of(_with_parameter(net, layer, which, index, theta + h))
        minus = loss_of(_with_parameter(net, layer, which, index, theta - h))
        out[index] = (plus - minus) / (2 * h)
    return out


def _one_sample(net: Network, n: int) -> Network:
    return replace(net, X=net.X[n:n + 1], Y=net.Y[n:n + 1])


def preactivation_gradient(net: Network, layer: int) -> np.ndarray:
    """dC/dz[layer], shape (N, n_layer): per sample, the bias of the one-sample network as the probe."""
    net = net.astype(np.float64)
    weight = 1.0 / net.batch if operations.loss(net.loss).batch_mean else 1.0
    return np.stack([weight * gradient(_one_sample(net, n), layer, "b") for n in range(net.batch)])


def _forward64(net: Network) -> tuple[list, list]:
    """z[l] (zs[0] None) and a[l] in float64, the table's NumPy forms."""
    zs, acts = [None], [net.X.astype(np.float64)]
    with np.errstate(over="ignore", under="ignore"):
        for layer in net.layers:
            zs.append(acts[-1] @ layer.W.astype(np.float64).T + layer.b.astype(np.float64))
            acts.append(operations.activation(layer.activation).forward(zs[-1]))
    return zs, acts


def _central(f, x0: np.ndarray) -> np.ndarray:
    """∂f/∂x at x0 by central differences, shape f(x0).shape + x0.shape."""
    out = np.zeros(np.shape(f(x0)) + x0.shape)
    for index in np.ndindex(x0.shape):
        h = np.finfo(np.float64).eps ** (1 / 3) * max(1.0, abs(x0[index]))
        plus, minus = x0.copy(), x0.copy()
        plus[index] += h
        minus[index] -= h
        out[(...,) + index] = (f(plus) - f(minus)) / (2 * h)
    return out


def jacobian(net: Network, q: Quantity) -> np.ndarray:
    """The local Jacobian q (canonical (N, out, in)) by central differences, in float64."""
    zs, acts = _forward64(net)
    num, top = q.numerator
    l = q.layer + top  # the layer whose function is differentiated
    layer = net.layers[l - 1]
    W, b = layer.W.astype(np.float64), layer.b.astype(np.float64)
    g = operations.activation(layer.activation).forward
    den = q.denominator[0]
    per_sample = []
    for n in range(net.batch):
        if den == "z":
            J = _central(g, zs[l][n])
        elif den == "a":
            J = _central(lambda a: (g if num == "a" else (lambda z: z))(W @ a + b), acts[l - 1][n])
        else:  # with respect to W: ∂out_i/∂W_ik of the full (out, out, in)
            full = _central(lambda W_: (g if num == "a" else (lambda z: z))(W_ @ acts[l - 1][n] + b), W)
            J = np.einsum("iik->ik", full)
        per_sample.append(J)
    return np.stack(per_sample)


def probes(net: Network, name: str) -> int:
    """How many loss evaluations `quantity(net, name)` costs (for a Jacobian: evaluations of its layer)."""
    q = Quantity.parse(name)
    if q.is_cost:
        return 1
    if q.is_jacobian:
        den, bottom = q.denominator
        l = q.layer + bottom
        size = net.W(l).size if den == "W" else net.widths[l]
        return 2 * net.batch * size
    kind, layer = q.parameter, q.layer  # a step W'[l] costs what its gradient dC/dW[l] costs
    if kind == "W":
        return 2 * net.W(layer).size
    if kind == "b":
        return 2 * net.b(layer).size
    return 2 * net.batch * net.widths[layer + (kind == "a")] if layer + (kind == "a") <= net.depth else 0


def quantity(net: Network, name: str) -> np.ndarray | None:
    """The canonical quantity `name` ('C', 'dC/dW[2]', ...) by finite differences; None if undecidable."""
    q = Quantity.parse(name)
    if q.is_cost:
        return np.asarray(loss(net))
    if q.is_jacobian:
        return jacobian(net.astype(np.float64), q)
    if q.is_step:  # W - η·dC/dW from the differences' gradient, in float64
        parameter = getattr(net.layers[q.layer - 1], q.parameter).astype(np.float64)
        return parameter - net.eta * gradient(net, q.layer, q.parameter)
    kind, layer = q.kind, q.layer
    if kind in "Wb":
        return gradient(net, layer, kind)
    if kind == "z":
        return preactivation_gradient(net, layer)
    if kind == "a" and layer < net.depth:
        return preactivation_gradient(net, layer + 1) @ net.W(layer + 1).astype(np.float64)
    return None


def decide(net: Network, name: str, values: dict[str, np.ndarray]) -> tuple[list[str], str]:
    """Which oracle(s) to keep for quantity `name` when they disagree, and a sentence saying why.

    Kept: the one whose largest distance to the finite differences is at most DECISION_SHARE of the
    largest torch-jax gap (the other is then at least 3/4 of the gap away). Otherwise both are kept and
    the note says "undecided".
    """
    names = list(values)
    if probes(net, name) > MAX_PROBES:
        return names, (f"finite differences would need {probes(net, name)} loss evaluations for {name} "
                       f"(limit {MAX_PROBES}): undecided, both oracles kept")
    fd = quantity(net, name)
    if fd is None:
        return names, f"finite differences cannot probe {name} (an output a-probe): undecided, both oracles kept"
    first, second = (np.asarray(values[k], dtype=np.float64) for k in names[:2])
    gap = float(np.max(np.abs(first - second)))
    distance = {k: float(np.max(np.abs(np.asarray(values[k], dtype=np.float64) - fd))) for k in names}
    best = min(names, key=distance.get)
    summary = ", ".join(f"{k} {distance[k]:.3g}" for k in names)
    if distance[best] <= DECISION_SHARE * gap:
        return [best], (f"finite differences (float64) side with {best} on {name}: largest distance {summary}, "
                        f"torch-jax gap {gap:.3g}; {best} kept for the comparison")
    return names, (f"finite differences (float64) cannot decide {name}: largest distance {summary}, torch-jax gap "
                   f"{gap:.3g}: undecided, both oracles kept")
