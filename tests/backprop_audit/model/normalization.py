"""Batch normalization and dropout: the facts every side needs, and the NumPy forward of both.

Batch normalization (Ioffe & Szegedy 2015; CS231n assignment 2), after a hidden dense layer l:

    z[l] = a[l-1] @ W[l].T + b[l]                  (the dense layer, as without it)
    μ = mean_n z[l],  var = mean_n (z[l] - μ)²       (batch statistics over the N samples; biased variance)
    ẑ[l] = (z[l] - μ) / √(var + ε),  ε = EPS = 1e-5  (torch.nn.BatchNorm1d's default)
    u[l] = γ[l] ⊙ ẑ[l] + β[l]
    a[l] = g(u[l])

γ[l], β[l] (shape (n_l,)) are parameters of the network, drawn per network, and C is differentiated with
respect to them (dC/dgamma[l], dC/dbeta[l]); dC/du[l] is the gradient at u. The output layer has none.

Dropout (Srivastava et al. 2014), inverted, after each hidden activation, with torch's convention:
p is the probability of DROPPING a unit (torch.nn.Dropout(p)); a fixed 0/1 mask drawn per network (1 keeps,
probability 1 - p), and the kept units scaled by 1/(1 - p) so that the expected activation is unchanged:

    a[l] = g(u[l]) ⊙ mask[l] / (1 - p)       (u[l] = z[l] without batch normalization)

A formula's view holds the mask as applied, 0/1 values (v.mask), and p (v.p) separately: the factor
1/(1 - p) is not inside v.mask, so a formula that forgets it is a formula that forgets it. a[l] (v.a) is
the activation after dropout, what layer l + 1 reads.

This module's NumPy forms are the manual side's arithmetic and the tolerance model's; the oracles write
their own (torch in references/torch_autograd.py, jax in references/jax_grad.py).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

EPS = 1e-5  # ε of √(var + ε): torch.nn.BatchNorm1d's default, CS231n's eps


class Normalized(NamedTuple):
    """One batch-normalized layer's forward values, row-major: mu, var (n,), zhat, u (N, n)."""
    mu: np.ndarray
    var: np.ndarray
    zhat: np.ndarray
    u: np.ndarray


def batch_normalize(z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = EPS) -> Normalized:
    """μ, var (biased), ẑ = (z - μ)/√(var + ε), u = γ ⊙ ẑ + β over the batch axis -2 (a stack's leading axes
    are kept), in z's dtype (ε cast to it)."""
    eps = np.asarray(eps, z.dtype)
    mu = z.mean(axis=-2, keepdims=True)
    centred = z - mu
    var = (centred * centred).mean(axis=-2, keepdims=True)
    zhat = centred / np.sqrt(var + eps)
    u = gamma[..., None, :] * zhat + beta[..., None, :]
    return Normalized(mu[..., 0, :], var[..., 0, :], zhat, u)


def keep_scale(p: float | None, dtype) -> np.ndarray:
    """1/(1 - p) in `dtype`, the inverted-dropout factor of the kept units (1 without dropout)."""
    return np.asarray(1.0 if p is None else 1.0 / (1.0 - p), dtype)


def drop(a: np.ndarray, mask: np.ndarray | None, p: float | None) -> np.ndarray:
    """g(u) ⊙ mask / (1 - p): inverted dropout as applied (a itself without a mask). Written as the product
    by the factor, as torch's F.dropout computes it (mask * (1/(1-p)))."""
    if mask is None:
        return a
    return a * (mask * keep_scale(p, a.dtype))
