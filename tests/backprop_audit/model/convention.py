"""The one adapter between the canonical layout and the layouts the documents write in.

A formula is written in one of two conventions, and gets a `View` of the network in it:

- "column": per-sample column vectors (documents 001 and 003, Nielsen's code). x has shape (n0, N),
  one sample per column; W[l] is (out, in); b[l] is (out, 1); z[l], a[l] are (n_l, N).
- "row": row-major batches (documents 000 and 002). X has shape (N, n0), one sample per row;
  W[l] is (in, out) so that z = a @ W + b; b[l] is (out,); z[l], a[l] are (N, n_l).

Lists are indexed by the canonical layer number 1..L (index 0 holds the input a[0] = x, and None for
W, b, z). Documents that number layers from 0 (document 000) shift the index in the record, with a
comment there. The oracles' quantities are converted into the same convention (`expected_value`),
so a formula's result is compared in the shape its document writes. A local Jacobian (model/quantity.py) is
(N, out, in) in both conventions, its rows the numerator's units; one with respect to W has W's layout per
sample, (N, in, out) in the row convention.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from backprop_audit.manual.forward import forward_pass
from backprop_audit.model.normalization import EPS
from backprop_audit.model.operations import CLASS_TARGETS  # one-hot rows: View.labels holds their classes
from backprop_audit.model.quantity import COST, Quantity

CONVENTIONS = ("column", "row")


@dataclass(frozen=True)
class View:
    """The network as a document writes it. Attribute names follow the documents' symbols."""

    convention: str
    L: int  # number of layers
    N: int  # batch size
    sizes: tuple[int, ...]  # n0, n1, ..., nL
    x: np.ndarray
    y: np.ndarray
    W: list
    b: list
    z: list
    a: list
    activation: list  # activation name per layer, index 0 is None
    loss: str
    l2: float = 0.0  # λ of C's term (λ/2) Σ_l ‖W[l]‖² (0: none)
    eta: float | None = None  # the learning rate of the step quantities W'[l], b'[l] (None: no step)
    labels: np.ndarray | None = None  # (N,) integer classes, the argmax of y's one-hot rows (targets onehot, labels)
    # Batch normalization (model/normalization.py), lists by layer like z and a (None at 0, at L and without it):
    # gamma, beta, mu, var per unit (column: (n_l, 1); row: (n_l,)), zhat, u like z; eps the ε of √(var + ε).
    gamma: list | None = None
    beta: list | None = None
    mu: list | None = None
    var: list | None = None
    zhat: list | None = None
    u: list | None = None
    eps: float = EPS
    # Dropout: mask[l] the 0/1 mask as applied (like z[l]; the 1/(1 - p) factor is NOT in it), p the probability
    # of dropping a unit (torch's convention); both None without dropout. a[l] is after dropout.
    mask: list | None = None
    p: float | None = None

    @property
    def X(self):
        return self.x

    def copy(self) -> View:
        """The same view with arrays and lists of its own: each call of a formula gets one (evaluate.py),
        so nothing a call does to its inputs (X /= 2) reaches another call, claim or oracle. Copies, not
        read-only arrays: a transcription that updates an input in place is judged on what it computes."""
        def own(values):
            return [None if v is None else v.copy() for v in values]
        maybe = lambda values: None if values is None else own(values)
        return replace(self, x=self.x.copy(), y=self.y.copy(), W=own(self.W), b=own(self.b), z=own(self.z),
                       a=own(self.a), activation=list(self.activation),
                       labels=None if self.labels is None else self.labels.copy(),
                       **{name: maybe(getattr(self, name)) for name in _LAYER_LISTS})

    @property
    def Y(self):
        return self.y

    def __getattr__(self, name: str):  # only for a name the view lacks: say which it has (a claim's v.lam, v.target)
        if name.startswith("__"):
            raise AttributeError(name)
        known = ", ".join([f.name for f in fields(View)] + ["X", "Y"])
        raise AttributeError(f"the network view has no {name!r}; it has {known}")


_LAYER_LISTS = ("gamma", "beta", "mu", "var", "zhat", "u", "mask")  # the optional per-layer lists of a View


def view_of(net, convention: str) -> View:
    """The network `net` in `convention`, with z and a from the manual NumPy forward pass."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; known: {', '.join(CONVENTIONS)}")
    passed = forward_pass(net)
    zs, activations = passed.z, passed.a
    acts = [None] + [layer.activation for layer in net.layers]
    if convention == "row":
        W = [None] + [layer.W.T.copy() for layer in net.layers]
        b = [None] + [layer.b.copy() for layer in net.layers]
        x, y = net.X.copy(), net.Y.copy()  # copies: nothing a formula does reaches the network
        z, a = zs, [x] + activations[1:]  # forward's a[0] is the network's own X
    else:
        W = [None] + [layer.W.copy() for layer in net.layers]
        b = [None] + [layer.b[:, None].copy() for layer in net.layers]
        z = [None] + [v.T.copy() for v in zs[1:]]
        a = [v.T.copy() for v in activations]
        x, y = net.X.T.copy(), net.Y.T.copy()
    return View(convention, net.depth, net.batch, net.widths, x, y, W, b, z, a, acts, net.loss, net.l2, net.eta,
                labels_of(net.Y, net.targets), **_layer_lists(net, passed, convention))


def _layer_lists(net, passed, convention: str) -> dict:
    """The View's batch-norm and dropout lists in `convention`: per-unit vectors as b is (a column (n, 1), or
    (n,)), per-sample arrays as z is ((n, N), or (N, n)); None for a network without them."""
    unit = (lambda v: v[:, None].copy()) if convention == "column" else (lambda v: v.copy())
    cell = (lambda v: v.T.copy()) if convention == "column" else (lambda v: v.copy())
    lists = {}
    if net.batchnorm:
        hidden = lambda values, shape: [None] + [shape(v) for v in values[1:net.depth]] + [None]
        lists.update(gamma=hidden([None] + [layer.gamma for layer in net.layers], unit),
                     beta=hidden([None] + [layer.beta for layer in net.layers], unit),
                     mu=hidden(passed.mu, unit), var=hidden(passed.var, unit),
                     zhat=hidden(passed.zhat, cell), u=hidden(passed.u, cell))
    if net.dropout is not None:
        lists.update(mask=[None] + [cell(layer.mask) for layer in net.layers[:-1]] + [None], p=net.dropout)
    return lists


def labels_of(Y: np.ndarray, targets: str) -> np.ndarray | None:
    """The integer classes of one-hot targets (row layout, the units last; a stack's with the network axis
    first), None for targets that are not one class per sample."""
    return np.argmax(Y, axis=-1) if targets in CLASS_TARGETS else None


def expected_value(name: str, value: np.ndarray, convention: str) -> np.ndarray:
    """An oracle's canonical quantity `name` (e.g. 'dC/dW[2]') in the layout of `convention`."""
    return _relayout(name, value, convention, to_convention=True)


def canonical_value(name: str, value: np.ndarray, convention: str) -> np.ndarray:
    """The inverse of expected_value: a quantity written in `convention` back in the canonical layout."""
    return _relayout(name, value, convention, to_convention=False)


def _relayout(name: str, value: np.ndarray, convention: str, to_convention: bool) -> np.ndarray:
    q = Quantity.parse(name)
    if q.is_jacobian:  # (N, out, in) in both conventions; with respect to W, W's own layout per sample
        return np.swapaxes(value, -1, -2) if convention == "row" and q.denominator[0] == "W" else value
    kind = q.parameter  # a stepped W'[l] (b'[l]) has W's (b's) layout
    kind = {"gamma": "b", "beta": "b", "u": "z"}.get(kind, kind)  # γ, β per unit as b is; u per sample as z is
    if kind == COST:
        return value
    if convention == "row":  # W is (in, out) there: dW transposed; the rest is already row-major
        return value.T if kind == "W" else value
    # column convention: b is a column (out, 1), z and a are (n_l, N); transposes are their own inverse
    if kind == "b":
        return value[:, None] if to_convention else value[:, 0]
    if kind in ("z", "a"):
        return value.T
    return value
