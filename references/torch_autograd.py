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
    dtype = TORCH_DTYPES[str(net.dtype)]
    as_tensor = lambda x, grad=False: torch.tensor(x, dtype=dtype, requires_grad=grad)
    a = as_tensor(net.X)
    y = as_tensor(net.Y)
    params, z_probes, a_probes = [], [], []
    z = None
    for layer in net.layers:
        W, b = as_tensor(layer.W, True), as_tensor(layer.b, True)
        z_probe = torch.zeros((a.shape[0], W.shape[0]), dtype=dtype, requires_grad=True)
        a_probe = torch.zeros_like(z_probe, requires_grad=True)
        z = a @ W.T + b + z_probe
        a = _activate(layer.activation, z) + a_probe
        params.append((W, b))
        z_probes.append(z_probe)
        a_probes.append(a_probe)
    C = _loss(net.loss, z, a, a_probes[-1], y)
    C.backward()
    out = {"C": C.detach().numpy()}
    for l, ((W, b), z_probe, a_probe) in enumerate(zip(params, z_probes, a_probes), start=1):
        out[f"dC/dW[{l}]"] = W.grad.numpy()
        out[f"dC/db[{l}]"] = b.grad.numpy()
        out[f"dC/dz[{l}]"] = z_probe.grad.numpy()
        out[f"dC/da[{l}]"] = a_probe.grad.numpy()
    return out
