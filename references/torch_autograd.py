"""Oracle 1: every quantity of a network from torch.autograd.

The forward pass and the loss are written here again in torch, from the canonical layout in
backprop_audit.network (nothing of manual/ is used). dC/dz[l] and dC/da[l] are read as the gradients of
zero probes added to z[l] and a[l]: the probes change no value, and their gradient is the derivative
asked for. The cross-entropies take log a[L] from the logits (log_softmax, logsigmoid) for stability.
"""
from __future__ import annotations


import numpy as np
import torch

torch.set_num_threads(1)  # two processes with two threads each run 10-20x slower on this machine

TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _activate(name: str, z: torch.Tensor) -> torch.Tensor:
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "tanh":
        return torch.tanh(z)
    if name == "relu":
        return torch.relu(z)
    if name == "identity":
        return z
    if name == "softmax":
        return torch.softmax(z, dim=1)
    raise ValueError(f"unknown activation {name!r}")


def _loss(name: str, z: torch.Tensor, a: torch.Tensor, probe: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """C from the output: a = act(z) + probe for the squared losses; logits z for the cross-entropies."""
    n = y.shape[0]
    if name == "sum_sq":
        return ((a - y) ** 2).sum()
    if name == "half_sum_sq":
        return 0.5 * ((a - y) ** 2).sum()
    if name == "mean_sum_sq":
        return ((a - y) ** 2).sum() / n
    if name == "mean_half_sum_sq":
        return 0.5 * ((a - y) ** 2).sum() / n
    # The a-probe enters log(s + probe) by its exact first-order term probe / s, with 1/s held constant
    # and s floored at the dtype's tiny: the same form as jax_grad.py, so that saturated outputs give
    # the same huge (not infinite) slope in both oracles and no 0 * inf leaks into dC/dz.
    tiny = torch.finfo(z.dtype).tiny
    inverse = lambda s: (1 / s.clamp(min=tiny)).detach()
    if name == "softmax_ce":
        log_s = torch.log_softmax(z, dim=1)
        return -(y * (log_s + probe * inverse(log_s.exp()))).sum() / n
    if name == "sigmoid_bce":
        p = torch.sigmoid(z)
        log_p = torch.nn.functional.logsigmoid(z) + probe * inverse(p)
        log_1mp = torch.nn.functional.logsigmoid(-z) - probe * inverse(1 - p)
        return -(y * log_p + (1 - y) * log_1mp).sum() / n
    raise ValueError(f"unknown loss {name!r}")


def quantities(net) -> dict[str, np.ndarray]:
    """C and every dC/dW[l], dC/db[l], dC/dz[l], dC/da[l] of `net`, in the canonical layout."""
    return _quantities(net)


def _quantities(net) -> dict[str, np.ndarray]:
    dtype = TORCH_DTYPES[str(net.dtype)]
    # from_numpy shares the network's memory instead of copying it (nothing here writes to a leaf);
    # a copy is made only for an array that is not C-contiguous or not already in the network's dtype.
    as_tensor = lambda x: torch.from_numpy(np.ascontiguousarray(x)).to(dtype)
    a = as_tensor(net.X)
    y = as_tensor(net.Y)
    leaves = []  # per layer: W, b, z-probe, a-probe, in this order
    z = None
    for layer in net.layers:
        W, b = as_tensor(layer.W).requires_grad_(), as_tensor(layer.b).requires_grad_()
        z_probe = torch.zeros((a.shape[0], W.shape[0]), dtype=dtype, requires_grad=True)
        a_probe = torch.zeros_like(z_probe, requires_grad=True)
        z = a @ W.T + b + z_probe
        a = _activate(layer.activation, z) + a_probe
        leaves += [W, b, z_probe, a_probe]
    C = _loss(net.loss, z, a, leaves[-1], y)
    grads = torch.autograd.grad(C, leaves)  # one backward pass, every leaf's gradient at once
    out = {"C": C.detach().numpy()}
    for l in range(1, net.depth + 1):
        gW, gb, gz, ga = grads[4 * (l - 1): 4 * l]
        out[f"dC/dW[{l}]"] = gW.numpy()
        out[f"dC/db[{l}]"] = gb.numpy()
        out[f"dC/dz[{l}]"] = gz.numpy()
        out[f"dC/da[{l}]"] = ga.numpy()
    return out


def _stacked_activate(name: str, z: torch.Tensor) -> torch.Tensor:
    """_activate on a stack (count, N, units): the softmax runs over the units, the last axis."""
    return torch.softmax(z, dim=-1) if name == "softmax" else _activate(name, z)


def _stacked_loss(name: str, z: torch.Tensor, a: torch.Tensor, probe, y: torch.Tensor) -> torch.Tensor:
    """_loss for every network of a stack: C of shape (count,), each network's own sum over its batch and
    units, divided by its own N; the same expressions as _loss. probe None: no a-probe (adds nothing)."""
    n = y.shape[-2]
    total = lambda m: m.sum(dim=(-2, -1))
    if name in ("sum_sq", "half_sum_sq", "mean_sum_sq", "mean_half_sum_sq"):
        a = a if probe is None else a + probe
        return {"sum_sq": lambda: total((a - y) ** 2), "half_sum_sq": lambda: 0.5 * total((a - y) ** 2),
                "mean_sum_sq": lambda: total((a - y) ** 2) / n,
                "mean_half_sum_sq": lambda: 0.5 * total((a - y) ** 2) / n}[name]()
    tiny = torch.finfo(z.dtype).tiny
    inverse = lambda s: (1 / s.clamp(min=tiny)).detach()
    probe = torch.zeros_like(z) if probe is None else probe
    if name == "softmax_ce":
        log_s = torch.log_softmax(z, dim=-1)
        return -total(y * (log_s + probe * inverse(log_s.exp()))) / n
    if name == "sigmoid_bce":
        p = torch.sigmoid(z)
        log_p = torch.nn.functional.logsigmoid(z) + probe * inverse(p)
        log_1mp = torch.nn.functional.logsigmoid(-z) - probe * inverse(1 - p)
        return -total(y * log_p + (1 - y) * log_1mp) / n
    raise ValueError(f"unknown loss {name!r}")


def stacked_quantities(Ws, bs, X, Y, activations, loss, names=None) -> dict[str, np.ndarray]:
    """Every quantity of `count` networks of one architecture at once: Ws[l-1] is (count, out, in),
    bs[l-1] (count, out), X (count, N, n0), Y (count, N, nL); the result arrays carry that axis first.

    The same forward pass and loss as `quantities`, written for the stack (batched matmuls, per-network
    sums), and ONE torch.autograd backward of the sum of the networks' costs: network i's parameters
    and probes enter only C_i, so d(Σ_j C_j)/dW_i = dC_i/dW_i, each network's own gradient (checked
    equal to `quantities` network by network in tests/test_sweep.py). No torch.func.vmap: its batching
    rules cost more than the arithmetic on networks this small.

    names: the quantities wanted (default: all); only their leaves get gradients (a probe nobody asks
    about is not added: adding a zero changes no value)."""
    L = len(Ws)
    wanted = set(names) if names is not None else None
    want = lambda q: wanted is None or q in wanted
    dtype = TORCH_DTYPES[str(X.dtype)]
    as_tensor = lambda x: torch.from_numpy(np.ascontiguousarray(x)).to(dtype)
    count, N = X.shape[:2]
    a, y = as_tensor(X), as_tensor(Y)
    leaves, keys = [], []
    z = a_probe = None
    for l, (W, b, activation) in enumerate(zip(Ws, bs, activations), start=1):
        W, b = as_tensor(W), as_tensor(b)
        for q, leaf in ((f"dC/dW[{l}]", W), (f"dC/db[{l}]", b)):
            if want(q):
                leaf.requires_grad_()
                leaves.append(leaf)
                keys.append(q)
        z = torch.baddbmm(b[:, None, :], a, W.transpose(1, 2))
        if want(f"dC/dz[{l}]"):
            z_probe = torch.zeros((count, N, W.shape[1]), dtype=dtype, requires_grad=True)
            z = z + z_probe
            leaves.append(z_probe)
            keys.append(f"dC/dz[{l}]")
        a = _stacked_activate(activation, z)
        a_probe = None
        if want(f"dC/da[{l}]"):
            a_probe = torch.zeros((count, N, W.shape[1]), dtype=dtype, requires_grad=True)
            leaves.append(a_probe)
            keys.append(f"dC/da[{l}]")
            if l < L:
                a = a + a_probe
    C = _stacked_loss(loss, z, a, a_probe, y)
    out = {"C": C.detach().numpy()} if want("C") else {}
    if leaves:
        grads = torch.autograd.grad(C.sum(), leaves)
        out.update({q: g.numpy() for q, g in zip(keys, grads)})
    return out
