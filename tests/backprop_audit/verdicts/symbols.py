"""The repair's expression in the record's own symbols: what the constants and unrolled sums of a traced
tree stand for.

A formula's Python runs on concrete sizes while it is traced (verdicts/trace.py): a sum over a layer's
nodes written as Python's sum(... for j in range(...)) is recorded unrolled, one term per node of the
network it was traced on, and a size read from a shape (n.sizes[-1], len(mini_batch)) as the number it
was. Printed as traced, the corrected formula reads as it is on that one network ("[0:1, :] * W[2][0, :]",
"/ (N * 2)"). So the repaired formula is traced again on two views of other sizes (every width and the
batch distinct, in each view and between them), and printed from the first:
- a Python sum whose terms differ only by integer constants k, k+1 in term k (an index) is folded into
  sum(term(j) for j in range(count));
- a constant, or a sum's count, that differs between the two traces is named by the one symbol that has
  that value on both views (N, K, n[l], η, their reciprocals, N * K);
- a constant the same on both is the record's own number (2, 0.5) and prints as written.
When the two traces differ in anything else, or a varying constant has no symbol, nothing is said here
(None) and the caller prints the tree of the network the repair was fitted on, as before.
"""
from __future__ import annotations

import numpy as np

from backprop_audit.verdicts import trace as tr
from backprop_audit.verdicts.trace import Node

# The printer's views: batch and widths n0..nL, all different within a view and from the other view's.
PRINTER_VIEWS = ((3, (5, 7, 11, 13, 17, 19, 23)), (4, (9, 10, 12, 14, 15, 16, 18)))
PRINTER_ETAS = (0.3, 0.7)
INDEX_NAMES = ("j", "k", "i", "m")  # a sum's index, the innermost first


class Index:
    """An index of a folded sum, plus an offset (j, j+1): printed as such inside keys and slices."""

    def __init__(self, name: str, offset: int):
        self.name, self.offset = name, offset

    def __eq__(self, other):
        return isinstance(other, Index) and (self.name, self.offset) == (other.name, other.offset)

    __hash__ = None

    def __repr__(self):
        return self.name if self.offset == 0 else f"{self.name}{self.offset:+d}"

    __str__ = __repr__


class Symbol:
    """A constant named by a symbol of the view (N, 1/N, K, n[1], η): printed as its name."""

    def __init__(self, text: str):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, Symbol) and self.text == other.text

    __hash__ = None

    def __repr__(self):
        return self.text

    __str__ = __repr__


class _Mismatch(Exception):
    pass


def printer_views(view) -> list:
    """The two views the repaired formula is traced on for printing: `view`'s depth, activations, loss and
    convention, other sizes (PRINTER_VIEWS) and, where it has one, another η."""
    views = []
    for (batch, sizes), eta in zip(PRINTER_VIEWS, PRINTER_ETAS):
        if view.L + 1 > len(sizes):
            return []
        views.append(tr.twin_view(view, sizes[0], seed=11, sizes=sizes[:view.L + 1], batch=batch,
                                  eta=None if view.eta is None else eta))
    return views


def expression_in_symbols(tree_on, view) -> str | None:
    """The text of the tree `tree_on(v)` gives on the printer views of `view`, with its unrolled sums folded
    and its size-dependent constants named; None when the two traces do not agree up to such constants."""
    views = printer_views(view)
    if not views:
        return None
    try:
        roots = [tree_on(v) for v in views]
    except Exception:  # the repaired formula does not trace on a view of these sizes
        return None
    if any(root is None for root in roots):
        return None
    folded = [fold_sums(root) for root in roots]
    try:
        named = _named(folded[0], folded[1], views)
    except _Mismatch:
        return None
    return tr.show(named)


# ---- unrolled sums ----------------------------------------------------------------------------------------

def fold_sums(root: Node) -> Node:
    """`root` with each Python sum over an index (0 + t0 + t1 + ..., term k indexed by k) as one node
    "sum-over" (name: the index, args: (the term with the index in it,), kwargs: {"count": the terms})."""
    memo = {}

    def visit(node):
        if node in memo:
            return memo[node]
        new = None
        terms = _sum_terms(node)
        if terms is not None:
            terms = [visit(t) if isinstance(t, Node) else t for t in terms]
            name = INDEX_NAMES[min(_sum_depth(terms[0]), len(INDEX_NAMES) - 1)]
            try:
                term = _generalized(terms, name)
                new = Node("sum-over", name, args=(term,), kwargs={"count": len(terms)}, ndim=node.ndim)
            except _Mismatch:
                new = None
        if new is None:
            new = tr._rebuilt(node, visit) if node.op == "call" else node
        memo[node] = new
        return new
    return visit(root)


def _sum_terms(node: Node) -> list | None:
    """t0, t1, ... when `node` is ((0 + t0) + t1) + ... with two terms or more (Python's sum starts from 0)."""
    terms = []
    while isinstance(node, Node) and node.op == "call" and node.name == "add" and len(node.args) == 2 \
            and not node.kwargs:
        left, right = node.args
        terms.append(right)
        if tr._is_zero(left):
            return terms[::-1] if len(terms) >= 2 else None
        node = left
    return None


def _sum_depth(template) -> int:
    """How many folded sums are nested in `template` (its index name is the next one)."""
    if isinstance(template, Node):
        inner = [_sum_depth(c) for c in list(template.args) + list(template.kwargs.values())]
        return max(inner, default=0) + (1 if template.op == "sum-over" else 0)
    if isinstance(template, (list, tuple)):
        return max((_sum_depth(t) for t in template), default=0)
    return 0


def _generalized(terms: list, name: str):
    """Term 0 with the integer constants that are k + c in term k (for every k) replaced by Index(name, c);
    _Mismatch when the terms differ in anything else."""
    first = terms[0]
    if all(t is first for t in terms):
        return first
    if isinstance(first, Node):
        _same_shape(terms)
        args = tuple(_generalized(list(column), name) for column in zip(*(t.args for t in terms)))
        kwargs = {key: _generalized([t.kwargs[key] for t in terms], name) for key in first.kwargs}
        return Node(first.op, first.name, first.fn, args, kwargs, first.ndim)
    if isinstance(first, (list, tuple)):
        if any(type(t) is not type(first) or len(t) != len(first) for t in terms):
            raise _Mismatch
        return type(first)(_generalized(list(column), name) for column in zip(*terms))
    if isinstance(first, slice):
        if not all(isinstance(t, slice) for t in terms):
            raise _Mismatch
        return slice(*(_generalized([getattr(t, part) for t in terms], name) for part in ("start", "stop", "step")))
    if _integer(first) and all(_integer(t) for t in terms):
        if all(t == first for t in terms):
            return first
        if all(t == first + k for k, t in enumerate(terms)):
            return Index(name, int(first))
        raise _Mismatch
    if all(_equal(t, first) for t in terms):
        return first
    raise _Mismatch


def _same_shape(nodes: list):
    first = nodes[0]
    for n in nodes[1:]:
        if not isinstance(n, Node) or (n.op, n.name, len(n.args), sorted(n.kwargs)) != \
                (first.op, first.name, len(first.args), sorted(first.kwargs)):
            raise _Mismatch


def _integer(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _equal(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return a is b


# ---- constants named by the views' symbols ---------------------------------------------------------------

def symbol_values(view) -> dict:
    """Symbol text -> its value on `view`: N, K (the output width), n[l] (the other widths), η, and the
    reciprocals and products a formula writes (1/N, N * K, η/N)."""
    N, K = int(view.N), int(view.sizes[-1])
    values = {"N": N, "K": K, **{f"n[{l}]": int(n) for l, n in enumerate(view.sizes[:-1])}, "N * K": N * K}
    for name in ("N", "K", "N * K"):
        values[f"1/{name}" if " " not in name else f"1/({name})"] = 1 / values[name]
    if view.eta is not None:
        values.update({"η": float(view.eta), "η/N": float(view.eta) / N})
    return values


def _symbol_for(a, b, views) -> Symbol:
    """The symbol with value a on the first view and b on the second; _Mismatch when there is none."""
    first, second = (symbol_values(v) for v in views)
    for name, value in first.items():
        if np.isclose(float(a), value, rtol=1e-12, atol=0) and np.isclose(float(b), second[name], rtol=1e-12, atol=0):
            return Symbol(name)
    raise _Mismatch


def _number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _named(a, b, views):
    """`a` with each constant that differs from `b`'s at the same place named by a symbol; _Mismatch when
    the two differ in anything but such constants."""
    if isinstance(a, Node):
        if not isinstance(b, Node) or (a.op, a.name, len(a.args), sorted(a.kwargs)) != \
                (b.op, b.name, len(b.args), sorted(b.kwargs)):
            raise _Mismatch
        args = tuple(_named(x, y, views) for x, y in zip(a.args, b.args))
        kwargs = {key: _named(a.kwargs[key], b.kwargs[key], views) for key in a.kwargs}
        return Node(a.op, a.name, a.fn, args, kwargs, a.ndim)
    if isinstance(a, (list, tuple)):
        if type(a) is not type(b) or len(a) != len(b):
            raise _Mismatch
        return type(a)(_named(x, y, views) for x, y in zip(a, b))
    if isinstance(a, slice):
        if not isinstance(b, slice):
            raise _Mismatch
        return slice(*(_named(getattr(a, p), getattr(b, p), views) for p in ("start", "stop", "step")))
    if _number(a) and _number(b):
        return a if a == b and type(a) is type(b) else _symbol_for(a, b, views)
    if isinstance(a, (Index, Symbol)) or a is None:
        if a != b and not (a is None and b is None):
            raise _Mismatch
        return a
    if _equal(a, b):
        return a
    raise _Mismatch
