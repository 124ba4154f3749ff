"""The standard correct backward passes of batch normalization and (inverted) dropout, as their usual sources
write them: CS231n's batchnorm_backward (assignment 2: dgamma, dbeta, and the simplified dx), and dropout's
backward through its mask (CS231n's dropout_backward, torch.nn.Dropout's convention). They are the catalog
gate's cover of the two layers (backprop_audit/model/normalization.py), checked against the oracles like every
other record; their textbook mistakes are mutants (backprop_audit/trust/mutants.py).

The sources are not in ../shared/seeds: every quote is a paraphrase, marked "(paraphrase)", as in standard.py.

Convention "row" (CS231n's (N, D) batches). CS231n's symbols map to the view's: x → z[l] (the dense layer's
output, what the batch norm normalizes), xhat → v.zhat[l], out → v.u[l], dout → dC/du[l], var → v.var[l],
eps → v.eps, gamma → v.gamma[l]; dropout's mask → v.mask[l] (0/1, the 1/(1 - p) factor apart), p → v.p (the
probability of dropping). Every network here has an identity output under ½Σ(a - y)², so dC/dz[L] = a[L] - y,
and dC/du[L-1] = (δ[L] W[L]ᵀ) ⊙ g'(u[L-1]), dout below.
"""
import numpy as np

from backprop_audit import Formula, Setting, Source
from backprop_audit.model.operations import derivative

CS231N_BN = ("CS231n, Assignment 2, Batch Normalization (cs231n/layers.py batchnorm_backward, "
             "https://cs231n.github.io/assignments2024/assignment2/); Ioffe & Szegedy 2015 (https://arxiv.org/abs/1502.03167)")
CS231N_DROPOUT = ("CS231n course notes, Neural Networks Part 2, Dropout (inverted dropout, "
                  "https://cs231n.github.io/neural-networks-2/#reg); torch.nn.Dropout (p: probability of an element to be zeroed)")

# batch statistics need samples: N from 2 (a batch of one has ẑ = 0, every gradient through it 0)
BATCHNORM = Setting(depth=(2, 3), width=(1, 4), batch=(2, 6), batchnorm=True, output=("identity",), loss=("half_sum_sq",))
DROPOUT = Setting(depth=(2, 3), width=(1, 4), batch=(1, 4), dropout=(0.1, 0.7), output=("identity",), loss=("half_sum_sq",))


def dout(n):
    """dC/du[L-1] = (δ[L] W[L]ᵀ) ⊙ g'(u[L-1]): CS231n's upstream gradient of the batch norm's output."""
    return ((n.a[n.L] - n.y) @ n.W[n.L].T) * derivative(n.activation[n.L - 1], n.u[n.L - 1])


def dgamma(n):
    """dgamma = np.sum(dout * xhat, axis=0)."""
    return np.sum(dout(n) * n.zhat[n.L - 1], axis=0)


def dbeta(n):
    """dbeta = np.sum(dout, axis=0)."""
    return np.sum(dout(n), axis=0)


def dx(n):
    """dx = (1/N) * gamma * (var + eps)**-0.5 * (N*dout - sum(dout) - xhat*sum(dout*xhat)) (CS231n's
    batchnorm_backward_alt, the simplified form, with (x - mu)(var + eps)^-1/2 written xhat). γ enters once:
    through dxhat = dout * gamma the same line reads (1/N)(var + eps)^-1/2 (N dxhat - Σ dxhat - xhat Σ dxhat xhat);
    with both γ and dxhat it would count γ twice (mutant batchnorm-dx-gamma-twice)."""
    l, N = n.L - 1, n.N
    xhat, gamma, d = n.zhat[l], n.gamma[l], dout(n)
    return (1.0 / N) * gamma * (n.var[l] + n.eps) ** -0.5 * (
        N * d - np.sum(d, axis=0) - xhat * np.sum(d * xhat, axis=0))


def dropout_delta(n):
    """dx = dout * mask / (1 - p), then through the activation: δ[L-1] = (δ[L] W[L]ᵀ) ⊙ mask/(1 - p) ⊙ g'(z[L-1])."""
    l = n.L - 1
    return ((n.a[n.L] - n.y) @ n.W[n.L].T) * n.mask[l] / (1 - n.p) * derivative(n.activation[l], n.z[l])


def record(id_, title, document, where, paraphrase, written, quantity, setting, compute):
    return Formula(id=id_, title=title, source=Source(document, where, f"(paraphrase) {paraphrase}"), written=written,
                   convention="row", quantity=quantity, setting=setting, compute=compute)


FORMULAS = [
    record("std-batchnorm-dgamma", "Batch norm: dγ = Σ_n dout ⊙ x̂", CS231N_BN, "batchnorm_backward, dgamma",
           "the gradient of the scale gamma is the sum over the batch of the upstream gradient times the normalized input",
           r"\frac{\partial C}{\partial \gamma} = \sum_{n} \mathrm{dout}_n \odot \hat{x}_n", "dC/dgamma[L-1]", BATCHNORM, dgamma),
    record("std-batchnorm-dbeta", "Batch norm: dβ = Σ_n dout", CS231N_BN, "batchnorm_backward, dbeta",
           "the gradient of the shift beta is the sum over the batch of the upstream gradient",
           r"\frac{\partial C}{\partial \beta} = \sum_{n} \mathrm{dout}_n", "dC/dbeta[L-1]", BATCHNORM, dbeta),
    record("std-batchnorm-dx", "Batch norm: dx in one line (the simplified backward)", CS231N_BN,
           "batchnorm_backward_alt, dx",
           "dx = (1/N) * gamma * (var + eps)^(-1/2) * (N * dout - sum(dout) - xhat * sum(dout * xhat)), the sums "
           "over the batch",
           r"dx = \frac{1}{N}\,\gamma\,(\sigma^2 + \epsilon)^{-1/2}\Big(N\,\mathrm{dout} - \sum_n \mathrm{dout}_n"
           r" - \hat{x} \sum_n \mathrm{dout}_n \odot \hat{x}_n\Big)",
           "dC/dz[L-1]", BATCHNORM, dx),
    record("std-dropout-backward", "Inverted dropout: the gradient passes the kept units, scaled by 1/(1 - p)",
           CS231N_DROPOUT, "inverted dropout, backward pass",
           "in the backward pass the gradient flows only through the units the mask kept, scaled by the same "
           "1/(1 - p) as the forward pass (p the probability of dropping)",
           r"\delta^{l} = \big(\delta^{l+1} W^{l+1\,T}\big) \odot \frac{m^{l}}{1 - p} \odot g'(z^{l})",
           "dC/dz[L-1]", DROPOUT, dropout_delta),
]
