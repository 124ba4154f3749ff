"""The regularizer rows of the operation table: the term a network adds to its loss, with all its facts.

Like an activation or a loss row (operations.py), a regularizer holds its NumPy forms, its torch form
(written in torch) and its jax form (written in jax), each given its framework's module, and what the
tolerance model needs. Its own module so that the activation and loss table stays as it is.

One row today, weight decay as Nielsen's network2 and CS231n's `reg` write it:

    C = loss + (λ/2) Σ_l ‖W[l]‖²_F,   dC/dW[l] = dC_loss/dW[l] + λ·W[l],   dC/db[l] unchanged.

λ is the network's `l2` (Network.l2, drawn from Setting.l2, given to formulas as `v.l2`); λ = 0 is no
term at all (the oracles then add nothing, so an unregularized network's answers are unchanged to the bit).
Every form takes one layer's W, possibly with leading network axes (a stack), and λ broadcasting against
W's leading axes (a number, or one per network).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Regularizer:
    """A term of C over the weights. numpy(W, λ): the term of one layer (summed over W's last two axes);
    numpy_gradient(W, λ): its dC/dW; torch_form(torch, W, λ), jax_form(jax, jnp, W, λ): the term, in each
    framework (autodiff gives its gradient there). Tolerance facts (judging/tolerance.py): cost_magnitude(|W|, λ)
    the scale of the term's rounding in C (its terms, all positive), gradient_magnitude(|W|, λ) the scale its
    gradient adds to dC/dW's (λ|W|: the sum dC_loss/dW + λW rounds on |dC_loss/dW| + λ|W|), and how many
    terms its sum adds to C's long sums (terms(W))."""

    name: str
    written: str
    numpy: Callable
    numpy_gradient: Callable
    torch_form: Callable
    jax_form: Callable
    cost_magnitude: Callable
    gradient_magnitude: Callable
    terms: Callable


def _column(lam, W):
    """λ shaped to broadcast over W's last two axes (a number stays a number)."""
    return np.reshape(lam, np.shape(lam) + (1, 1)) if np.ndim(lam) else lam


L2 = Regularizer(
    name="l2",
    written=r"\frac{\lambda}{2} \sum_l \lVert W^{[l]} \rVert_F^2",
    numpy=lambda W, lam: 0.5 * lam * np.sum(W * W, axis=(-2, -1)),
    numpy_gradient=lambda W, lam: _column(lam, W) * W,
    torch_form=lambda torch, W, lam: 0.5 * lam * (W * W).sum(dim=(-2, -1)),
    jax_form=lambda jax, jnp, W, lam: 0.5 * lam * jnp.sum(W * W, axis=(-2, -1)),
    cost_magnitude=lambda absW, lam: 0.5 * lam * np.sum(absW * absW, axis=(-2, -1)),
    gradient_magnitude=lambda absW, lam: _column(lam, absW) * absW,
    terms=lambda W: W.shape[-1] * W.shape[-2],
)

REGULARIZER_ROWS = (L2,)
