"""Worked example of a claims file: Nielsen, "Neural Networks and Deep Learning", chapter 2,
the four fundamental equations BP1-BP4, plus the user's own code (user_network.py) that implements them.

Run it with:  backprop-audit check tests/backprop_audit/examples/nielsen_book.py --out my-report

Convention "column": one sample per column, W[l] of shape (out, in), b[l] of shape (out, 1), as the
book writes them. The book's equations are per training example with C_x = ½‖y - a^L‖², so the setting
is batch size 1, the half squared error, and the sigmoid in every layer (the book's σ).
"""
import numpy as np

from backprop_audit import Formula, Setting, Source

from user_network import Network, sigmoid_prime

BOOK = "Nielsen, Neural Networks and Deep Learning, chapter 2"
ONE_SAMPLE = Setting(hidden=("sigmoid",), output=("sigmoid",), loss=("half_sum_sq",), batch=(1, 1))


def bp1(v):
    """δ^L = ∇_a C ⊙ σ'(z^L), with ∇_a C = (a^L - y) for the quadratic cost."""
    return (v.a[v.L] - v.y) * sigmoid_prime(v.z[v.L])


def deltas(v):
    """δ^L by BP1, then BP2 down to the first layer."""
    delta = {v.L: bp1(v)}
    for l in range(v.L - 1, 0, -1):
        delta[l] = (v.W[l + 1].T @ delta[l + 1]) * sigmoid_prime(v.z[l])
    return delta


def bp1_as_first_copied(v):
    """BP1 with the slip made while copying it: σ'(a^L) where the book has σ'(z^L)."""
    return (v.a[v.L] - v.y) * sigmoid_prime(v.a[v.L])


def network_of(v):
    """The user's Network holding the same weights and biases (its lists start at layer 1)."""
    return Network(v.W[1:], v.b[1:])


def mini_batch(v):
    """The batch as update_mini_batch takes it: a list of (x, y) column pairs."""
    return [(v.x[:, [i]], v.y[:, [i]]) for i in range(v.N)]


CLAIMS = [
    Formula(
        id="nielsen-BP1",
        title="BP1: the error in the output layer",
        source=Source(BOOK, "equation (BP1)", "An equation for the error in the output layer, δ^L"),
        written=r"\delta^L = \nabla_a C \odot \sigma'(z^L)",
        convention="column",
        quantity="dC/dz[L]",
        setting=ONE_SAMPLE,
        compute=bp1,
    ),
    Formula(
        id="nielsen-BP1-as-first-copied",
        title="BP1 as first copied: σ'(a^L) for σ'(z^L)",
        source=Source(BOOK, "equation (BP1)", "An equation for the error in the output layer, δ^L"),
        written=r"\delta^L = (a^L - y) \odot \sigma'(a^L)",
        convention="column",
        quantity="dC/dz[L]",
        setting=ONE_SAMPLE,
        compute=bp1_as_first_copied,
        expected="erratum",
        note="A deliberate transcription slip, kept to show how the report names it.",
    ),
    Formula(
        id="nielsen-BP2",
        title="BP2: the error δ^l in terms of the error in the next layer",
        source=Source(BOOK, "equation (BP2)", "An equation for the error δ^l in terms of the error in the next layer, δ^{l+1}"),
        written=r"\delta^l = ((w^{l+1})^T \delta^{l+1}) \odot \sigma'(z^l)",
        convention="column",
        quantity="dC/dz[l]",
        setting=ONE_SAMPLE,
        compute=lambda v, l: deltas(v)[l],
    ),
    Formula(
        id="nielsen-BP3",
        title="BP3: the rate of change of the cost with respect to any bias",
        source=Source(BOOK, "equation (BP3)", "An equation for the rate of change of the cost with respect to any bias in the network"),
        written=r"\frac{\partial C}{\partial b^l_j} = \delta^l_j",
        convention="column",
        quantity="dC/db[l]",
        setting=ONE_SAMPLE,
        compute=lambda v, l: deltas(v)[l],
    ),
    Formula(
        id="nielsen-BP4",
        title="BP4: the rate of change of the cost with respect to any weight",
        source=Source(BOOK, "equation (BP4)", "An equation for the rate of change of the cost with respect to any weight in the network"),
        written=r"\frac{\partial C}{\partial w^l_{jk}} = a^{l-1}_k \delta^l_j",
        convention="column",
        quantity="dC/dW[l]",
        setting=ONE_SAMPLE,
        # Entry (j, k) is a^{l-1}_k δ^l_j: the outer product δ^l (a^{l-1})ᵀ.
        compute=lambda v, l: deltas(v)[l] @ v.a[l - 1].T,
    ),
    # The user's code, not a formula: Network.backprop for one sample, layer l is index l - 1.
    Formula(
        id="user-code-backprop-nabla-w",
        title="user_network.Network.backprop: nabla_w",
        source=Source("user_network.py", "Network.backprop", "return nabla_b, nabla_w"),
        written=r"\nabla_w C_x",
        convention="column",
        quantity="dC/dW[l]",
        setting=ONE_SAMPLE,
        compute=lambda v, l: network_of(v).backprop(v.x, v.y)[1][l - 1],
    ),
    Formula(
        id="user-code-backprop-nabla-b",
        title="user_network.Network.backprop: nabla_b",
        source=Source("user_network.py", "Network.backprop", "return nabla_b, nabla_w"),
        written=r"\nabla_b C_x",
        convention="column",
        quantity="dC/db[l]",
        setting=ONE_SAMPLE,
        compute=lambda v, l: network_of(v).backprop(v.x, v.y)[0][l - 1],
    ),
    # update_mini_batch steps along the mean of the per-sample gradients: the gradient of the mean
    # half squared error over the mini-batch (mean_half_sum_sq), for any batch size.
    Formula(
        id="user-code-mini-batch-gradient",
        title="user_network.Network.mini_batch_gradient: the step direction of update_mini_batch",
        source=Source("user_network.py", "Network.mini_batch_gradient", "the mean over the mini-batch of backprop's gradients"),
        written=r"\frac{1}{m} \sum_x \nabla_w C_x",
        convention="column",
        quantity="dC/dW[l]",
        setting=Setting(hidden=("sigmoid",), output=("sigmoid",), loss=("mean_half_sum_sq",), batch=(1, 4)),
        compute=lambda v, l: network_of(v).mini_batch_gradient(mini_batch(v))[1][l - 1],
    ),
]
