"""Repair: the smallest edit of the traced formula (verdicts/trace.py) that makes it hold.

The formula as written is traced on the minimal failing network into a tree; edits of that tree are
tried smallest first (one edit, then two), each a change a reader of the text would name: transpose
a leaf or a subexpression, swap the operands of a product, ⊙ ↔ @, regroup a product (A ⊙ (B @ C) →
B @ (A ⊙ C)), the axis of a reduction or a reduction added/dropped, g'(a) ↔ g'(z) or a wrong derivative
form → g'(z), a form of the output gradient over a[L] and y ((a - y)/N, say) → the loss row's
dC/da[L], a leaf to its neighbour layer, ⊙ g'(z) dropped or added, and the claim read at a
neighbour layer or as the other derivative (∂C/∂z ↔ ∂C/∂a). A constant factor (−1, 2, ½, N, 1/N, K,
1/K and their products) is free. A factor (2, ½, −1, N, 1/N) on one term of a sum or difference is an edit
of its own (TERM_FACTORS), tried after every other single edit, never in a pair, and with no free factor in
front: W − 2η·g for W − η·g. η and λ are leaves of the tree (v.eta, v.l2), as N is. A formula whose literal products do not conform may take a third
edit, when each edit of the chain is made where a product fails to conform (the shapes say where). An edit is addressed by the shape of the node it changes (its
operation and its operands' kinds, not their layers), so it changes every step of a recursion alike:
a mistake repeated at every layer (a Jacobian's factors in the wrong order, σ'(a) down a recursion) is
one edit. A candidate counts only when it holds on every failing network kept (each traced on its own
twin, the edit applied by its address) and then on a fresh search of the formula's setting.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass

import numpy as np

from backprop_audit.judging.memory import RunMemory
from backprop_audit.judging.reference import answers_for
from backprop_audit.model.convention import expected_value, view_of
from backprop_audit.model.quantity import Quantity
from backprop_audit.verdicts import symbols, trace as tr
from backprop_audit.verdicts.trace import Node

MAX_EDITS = 2
FORCED_EDITS = 3  # a chain of edits each forced by a product that does not conform (_forced_chains)
REPAIR_EXAMPLES = 100  # the fresh search a candidate must survive
REPLAY_ULPS = 64  # how far (in units of the dtype's eps, relative) a replayed tree may round from compute
CASE_MEMO_BYTES = 64 * 2**20  # about the most a case keeps of its node values (_Case.memo): emptied beyond it
_PRODUCTS = ("multiply", "matmul", "dot")
# A constant factor on one term of a sum or difference (issue 15: "a constant factor at any node"), tried as a
# single edit after every other single edit, never as one of two: a factor at the root is free already (the
# fitted factor), and every term of every sum times each factor would multiply the pairs searched. N is the
# batch size (the leaf N); K, the output width, is not a leaf of the tree and is not offered.
TERM_FACTORS = ("2", "1/2", "-1", "N", "1/N")


@dataclass(frozen=True)
class Edit:
    """One edit: its kind, the address of the nodes it changes, which variant, and a sentence."""

    kind: str
    address: str
    variant: str = ""
    text: str = ""

    @property
    def label(self) -> str:
        """The edit in a few words, without the network's own values (a record's Expected fix)."""
        leaf = self.address[len("leaf:"):] if self.address.startswith("leaf:") else ""
        if self.kind == "transpose":
            return f"transpose {leaf}" if leaf else "transpose a product"
        if self.kind == "neighbour":
            return f"{leaf} at layer {int(self.variant):+d}"
        if self.kind == "neighbour-at":
            _, shift, name = self.variant.split(":")
            return f"{name} at layer {int(shift):+d} (one operand)"
        return {"untranspose": "drop a transpose", "swap": "swap the operands",
                "product": "⊙ for @" if self.variant == "A*B" else "@ for ⊙", "regroup": "regroup the product",
                "drop-derivative": "drop ⊙ g'", "insert-derivative": "⊙ g'(z)",
                "derivative-of-a": "g'(a) for g'(z)", "derivative-form": "g'(z) for the derivative written",
                "loss-derivative": "the loss's dC/da[L] for the form written",
                "derivative-at-z": "g'(z) for g'(a)", "softmax-jacobian": "the softmax Jacobian for its diagonal",
                "axis": f"reduce over axis {self.variant}", "drop-reduction": "drop a reduction",
                "keepdims": "keep the reduced axis", "drop-index": "drop an index", "add-bias": "add the bias",
                "reduce": f"{self.variant.replace(':', ' over axis ')}",
                "scale-term": f"x {self.variant} on a term"}[self.kind]


@dataclass
class Repair:
    edits: list  # the edits' sentences
    labels: list  # the edits in a few words (the diagnosis's fix)
    expression: str  # the corrected formula, in the compute's own symbols
    quantity: str  # what it holds for (the claim, or the claim relabelled)
    factor: str  # the free constant factor ("" for none)
    examples: int = 0
    seconds: float = 0.0
    holds: bool = True
    formula: object = None  # the repaired record (its compute retraces and edits on each network)
    cases: list = dataclasses.field(default_factory=list)  # (network, concrete quantity) it was fitted on
    corrected: dict | None = None  # the comparison with a hand-written corrected record (compare_with)

    def compare_with(self, corrected, memory: RunMemory) -> dict:
        """Whether the repair equals the hand-written corrected record, numerically, on the failing
        networks it was fitted on (each within the quantity's tolerance); stored in `corrected`."""
        from backprop_audit.verdicts.diagnose import _fits
        equal, compared = True, 0
        for net, name in self.cases:
            view = view_of(net, corrected.convention)
            layer = Quantity.parse(name).layer
            try:
                with np.errstate(all="ignore"):
                    mine, theirs = (np.asarray(f.compute(view, layer) if f.per_layer else f.compute(view), np.float64)
                                    for f in (self.formula, corrected))
            except Exception:
                equal = False
                continue
            compared += 1
            equal = equal and _fits(mine, theirs, net, name, corrected.convention, memory)
        self.corrected = {"id": corrected.id, "equal": bool(equal and compared), "networks": compared}
        return self.corrected

    def as_dict(self) -> dict:
        return {"edits": list(self.edits), "fix": "; ".join(self.labels), "expression": self.expression,
                "quantity": self.quantity, "holds": self.holds, "examples": self.examples,
                "seconds": round(self.seconds, 3), "equals_corrected": self.corrected}


# ---- addresses ---------------------------------------------------------------------------------------

def _leaf_address(name: str, claim: Quantity, depth: int, layer: int | None) -> str:
    """A leaf's name relative to the claim: W[l+1] for a claim at every layer, W[L-1] otherwise."""
    if "[" not in name:
        return name
    kind, number = name[:-1].split("[")
    number = int(number)
    if claim.per_layer and layer is not None:
        offset = number - layer
        return f"{kind}[l{offset:+d}]" if offset else f"{kind}[l]"
    offset = depth - number
    return f"{kind}[L-{offset}]" if offset else f"{kind}[L]"


def _shallow(node: Node, depth: int = 1) -> str:
    """A node's operation and its operands' operations or leaf kinds, one level deep, no layers and no
    activation names (a recursion's steps differ in both)."""
    if node.op == "leaf":
        return node.name.split("[")[0]
    if node.op in ("deriv", "oracle"):
        return node.op
    if depth == 0:
        return node.name
    parts = []
    for arg in node.args:
        parts.append(_shallow(arg, depth - 1) if isinstance(arg, Node) else
                     ("[..]" if isinstance(arg, (list, tuple)) else repr(arg)))
    return f"{node.name}({','.join(parts)};{sorted(node.kwargs.items(), key=str)!r})"


class _Context:
    """What addresses need: the claim, the network's depth and the traced layer (and the network's loss,
    whose derivative an edit may put in)."""

    def __init__(self, claim: Quantity, depth: int, layer: int | None, convention: str = "row", loss: str | None = None):
        self.claim, self.depth, self.layer, self.convention, self.loss = claim, depth, layer, convention, loss
        # A repair search asks for the same nodes' addresses thousands of times (every edit made walks the
        # whole tree, and the trees of the candidates share their unchanged subtrees): each node's once.
        self._addresses: dict = {}  # node -> its address
        self._within: dict = {}  # node -> the addresses in its subtree (itself included)
        self._briefs: dict = {}  # node -> trace.brief(node)

    def address(self, node: Node) -> str:
        found = self._addresses.get(node)
        if found is None:
            found = "leaf:" + _leaf_address(node.name, self.claim, self.depth, self.layer) if node.op == "leaf" \
                else _shallow(node)
            self._addresses[node] = found
        return found

    def brief(self, node: Node) -> str:
        """trace.brief(node), once per node (an edit's sentence names it)."""
        found = self._briefs.get(node)
        if found is None:
            found = self._briefs[node] = tr.brief(node)
        return found

    def addresses_within(self, node: Node) -> frozenset:
        """The addresses of `node` and of every node below it."""
        found = self._within.get(node)
        if found is None:
            found = frozenset((self.address(node),)).union(*(self.addresses_within(c) for c in node.children()))
            self._within[node] = found
        return found

    def leaf_name(self, address: str) -> str:
        """The concrete leaf name of a relative leaf address on this network and layer."""
        if "[" not in address:
            return address
        kind, spec = address[:-1].split("[")
        if spec.startswith("l"):
            number = self.layer + (int(spec[1:]) if len(spec) > 1 else 0)
        else:
            number = self.depth - (int(spec[2:]) if len(spec) > 1 else 0)
        return f"{kind}[{number}]"


# ---- the edits ---------------------------------------------------------------------------------------

def _walk(root: Node):
    seen, stack, order = set(), [root], []
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        stack.extend(node.children())
    return order


def _call(name, fn, *args, ndim=2, **kwargs):
    return Node("call", name, fn, tuple(args), kwargs, ndim)


def _T(node):
    return _call("transpose", np.transpose, node, ndim=node.ndim)


def _product(name, a, b):
    fn = {"multiply": np.multiply, "matmul": np.matmul, "dot": np.dot}[name]
    return _call(name, fn, a, b, ndim=max(getattr(a, "ndim", 0), getattr(b, "ndim", 0)))


_SWAPS = {"B@A": lambda a, b: (b, a), "B.T@A": lambda a, b: (_T(b), a), "B@A.T": lambda a, b: (b, _T(a))}
_TO_MATMUL = {"A@B": lambda a, b: (a, b), **_SWAPS, "A.T@B": lambda a, b: (_T(a), b),
              "A@B.T": lambda a, b: (a, _T(b))}


def _binary(node):
    return node.op == "call" and node.name in _PRODUCTS and len(node.args) == 2 and not node.kwargs \
        and all(isinstance(a, Node) for a in node.args)


def _elementwise_leaves(node) -> set | None:
    """The leaf names of `node` when it is an elementwise subtree (ufuncs and tr.ELEMENTWISE_CALLS down to its
    leaves, no product of arrays), else None. A recognised derivative g'(z[l]) (a deriv node) is elementwise in
    its leaf: softplus' = σ written as σ'(z) = σ(z)(1 - σ(z)) is traced as softplus'(z) (1 - softplus'(z)), a
    derivative form over z of its own."""
    if node.op != "call" or node.name in ("matmul", "dot", "transpose"):
        return None
    leaves, stack = set(), [node]
    while stack:
        n = stack.pop()
        if n.op == "leaf":
            leaves.add(n.name)
        elif n.op == "deriv" or n.op == "call" and (isinstance(n.fn, np.ufunc) or n.name in tr.ELEMENTWISE_CALLS) \
                and n.name != "matmul":
            stack.extend(n.children())
        else:
            return None
    return leaves


def _one_leaf_elementwise(node):
    """The z or a leaf of an elementwise one-leaf subtree (a derivative form), else None."""
    leaves = _elementwise_leaves(node)
    if leaves is not None and len(leaves) == 1:
        name = next(iter(leaves))
        if name[:2] in ("z[", "a["):
            return name
    return None


def _output_gradient_form(node, ctx) -> bool:
    """`node` is an elementwise subtree over a[L] and y (N aside): a form of the output gradient dC/da[L]
    as written ((a - y)/N, (a - y)/(N·K), ...), which the loss row's own derivative may replace."""
    leaves = _elementwise_leaves(node)
    return leaves is not None and leaves - {"N"} == {f"a[{ctx.depth}]", "y"}


def loss_gradient(loss: str, convention: str, a, y, N):
    """dC/da[L] of the loss row (model/operations.py), in the formula's convention (the rows are row layout)."""
    from backprop_audit.model import operations
    gradient = operations.loss(loss).numpy_gradient
    return gradient(a, y, N) if convention == "row" else gradient(a.T, y.T, N).T


def edits_of(root: Node, ctx: _Context, activations, only: set | None = None) -> list[Edit]:
    """Every edit of `root`, in the order tried (simplest kinds first); only: just those at these addresses
    (the same edits, in the same order, as filtering the whole list by address)."""
    edits = []
    nodes = _walk(root)
    uses = _leaf_uses(root, nodes)
    counts = {}
    for node in nodes:
        counts[ctx.address(node)] = counts.get(ctx.address(node), 0) + 1
    # np.where's condition selects, it is no factor: g'(z) there is nonzero everywhere for elu, softplus, ... and
    # makes the where one of its branches (an outside tester's ELU got "z > 0 replaced by g'(z)", read as dC/da)
    conditions = {id(node.args[0]) for node in nodes
                  if node.op == "call" and node.name == "where" and node.args and isinstance(node.args[0], Node)}
    for node in nodes:  # a parent repeated (a recursion's steps): its leaf moved at every step alike
        if node.op == "call" and counts[ctx.address(node)] > 1:
            for child in node.children():
                if child.op == "leaf":
                    uses[child.name] = max(uses.get(child.name, 0), 2)
    for node in nodes:
        address = ctx.address(node)
        if only is not None and address not in only:
            continue
        where = ctx.brief(node)
        if node.op == "call" and node.name == "transpose":
            edits.append(Edit("untranspose", address, "", f"drop the transpose of {tr.show(node.args[0])}"))
        elif node.ndim == 2 and node.op != "deriv":
            edits.append(Edit("transpose", address, "", f"transpose {where}"))
        if _binary(node) and node.name in ("matmul", "dot"):
            for variant in _SWAPS:
                edits.append(Edit("swap", address, variant, f"swap the operands of {where}"))
            edits.append(Edit("product", address, "A*B", f"⊙ for @ in {where}"))
        if _binary(node) and node.name == "multiply":
            for variant in _TO_MATMUL:
                edits.append(Edit("product", address, variant, f"@ for ⊙ in {where}"))
            for i, arg in enumerate(node.args):
                if arg.op == "deriv":
                    edits.append(Edit("drop-derivative", address, str(i), f"drop the factor {tr.brief(arg)} of {where}"))
        if _binary(node):
            for i, arg in enumerate(node.args):
                if _binary(arg):
                    for variant in ("outer-left", "outer-right"):
                        edits.append(Edit("regroup", address, f"{i}:{variant}", f"regroup {where}"))
        if node.op == "call" and node.name in ("sum", "mean", "max", "min"):
            for axis in (0, 1, None):
                if node.kwargs.get("axis", None) != axis:
                    edits.append(Edit("axis", address, repr(axis), f"the {node.name} of {where} over axis {axis}"))
            if node.name in ("sum", "mean"):
                edits.append(Edit("drop-reduction", address, "", f"drop the {node.name} of {where}"))
        if node.op == "deriv" and node.args[0].name.startswith("z["):
            edits.append(Edit("derivative-of-a", address, "", f"{tr.show(node)} taken of a, not z"))
        if node.op == "deriv" and node.args[0].name.startswith("a["):
            edits.append(Edit("derivative-at-z", address, "", f"{tr.show(node)} taken of z, not a"))
        leaf_name = _one_leaf_elementwise(node)
        if leaf_name is not None and id(node) not in conditions:
            edits.append(Edit("derivative-form", address, "", f"{where} replaced by g'(z) of its layer"))
        if _output_gradient_form(node, ctx):
            edits.append(Edit("loss-derivative", address, "", f"{where} replaced by the loss's dC/da[L]"))
        if node.op == "leaf" and "[" in node.name:
            for shift in (1, -1):
                edits.append(Edit("neighbour", address, str(shift), f"{node.name} → its layer {shift:+d}"))
        edits.extend(_more_edits(node, address, where, ctx, activations, uses))
    for reduce in ("sum", "mean") if root.ndim == 2 and (only is None or "root" in only) else ():
        for axis in (0, 1):
            edits.append(Edit("reduce", "root", f"{reduce}:{axis}", f"the {reduce} of the result over axis {axis}"))
    if not ctx.claim.is_cost and (only is None or "root" in only):
        edits.append(Edit("insert-derivative", "root", "", "⊙ g'(z) of the claim's layer added"))
    unique = {}
    for edit in edits:
        unique.setdefault((edit.kind, edit.address, edit.variant), edit)
    # a reduction's axis before the rest: a softmax or a sum over the wrong axis is said as such, not as
    # the transposes that make the same numbers (the sort is stable: the walk's order otherwise)
    return sorted(unique.values(), key=lambda edit: edit.kind not in ("axis", "keepdims"))


def _leaf_uses(root: Node, nodes=None) -> dict:
    """Leaf name -> how many operand slots in the tree hold it (nodes: _walk(root), if already made)."""
    uses = {}
    for node in _walk(root) if nodes is None else nodes:
        for child in node.children():
            if child.op == "leaf":
                uses[child.name] = uses.get(child.name, 0) + 1
    return uses


def _weight_layer(node: Node) -> int | None:
    """l when `node` is a product of W[l] (or W[l].T) with another operand: a forward sum W a, bias left out."""
    if not (_binary(node) and node.name in ("matmul", "dot")):
        return None
    for arg in node.args:
        leaf = arg.args[0] if arg.op == "call" and arg.name == "transpose" and isinstance(arg.args[0], Node) else arg
        if leaf.op == "leaf" and leaf.name.startswith("W["):
            return int(leaf.name[2:-1])
    return None


def _softmax_factor(node: Node, activations):
    """(index of the other operand, the softmax layer) when `node` multiplies something by a one-leaf form
    of a softmax layer's a or z (its Jacobian's diagonal a(1 - a), say), else None."""
    if not (_binary(node) and node.name == "multiply"):
        return None
    for i, arg in enumerate(node.args):
        name = _one_leaf_elementwise(arg) if arg.op == "call" else None
        if name is not None:
            layer = int(name[2:-1])
            if 0 < layer < len(activations) and activations[layer] == "softmax":
                return 1 - i, layer
    return None


def term_factors_of(root: Node, ctx: _Context) -> list[Edit]:
    """A constant factor (TERM_FACTORS) on one operand of a sum or difference in `root`, each term once (by
    address), in the walk's order: W - 2η·g for W - η·g (mutant step-unhalved-loss-derivative). (Batch norm's
    dx, N·dx̂ written dx̂, would be one too, but its γ, x̂ and var are no leaves of the tree: it is not traced.)"""
    edits, seen = [], set()
    for node in _walk(root):
        if not (node.op == "call" and node.name in ("add", "subtract") and len(node.args) == 2):
            continue
        for term in node.args:
            if not isinstance(term, Node) or term.op not in ("call", "leaf", "deriv"):
                continue
            address = ctx.address(term)
            if address in seen:
                continue
            seen.add(address)
            for factor in TERM_FACTORS:
                edits.append(Edit("scale-term", address, factor, f"{ctx.brief(term)} × {factor}"))
    return edits


def _scaled(node: Node, factor: str) -> Node:
    """node × factor (TERM_FACTORS), N read from the network (the leaf N)."""
    n = Node("leaf", "N", ndim=0)
    ndim = node.ndim
    if factor == "N":
        return _call("multiply", np.multiply, node, n, ndim=ndim)
    if factor == "1/N":
        return _call("divide", np.divide, node, n, ndim=ndim)
    return _call("multiply", np.multiply, node, {"2": 2.0, "1/2": 0.5, "-1": -1.0}[factor], ndim=ndim)


def _more_edits(node: Node, address: str, where: str, ctx: _Context, activations, uses) -> list:
    """The edits of the second round: keepdims, an index dropped, a bias added back, the softmax Jacobian
    for its diagonal, one occurrence of a leaf moved to its neighbour layer."""
    edits = []
    if node.op == "call" and node.name in ("sum", "mean") and not node.kwargs.get("keepdims", False):
        edits.append(Edit("keepdims", address, "", f"the {node.name} of {where} keeping the reduced axis"))
    if node.op == "call" and node.name == "getitem" and isinstance(node.args[0], Node):
        edits.append(Edit("drop-index", address, "", f"{where} without its index"))
    layer = _weight_layer(node)
    if layer is not None:
        edits.append(Edit("add-bias", address, "", f"the bias b[{layer}] added to {where}"))
    if _softmax_factor(node, activations) is not None:
        edits.append(Edit("softmax-jacobian", address, "", f"{where}: the softmax Jacobian, not its diagonal"))
    if node.op == "call":
        for i, arg in enumerate(node.args):
            inner = arg.args[0] if isinstance(arg, Node) and arg.op == "deriv" else arg  # g'(z[l]): its z
            # offered where it differs from moving every use of the leaf: the leaf is used twice, or its
            # parent repeats (a recursion's steps; at every layer l, on a deeper network than this one)
            if isinstance(inner, Node) and inner.op == "leaf" and "[" in inner.name and \
                    (uses.get(inner.name, 0) > 1 or ctx.claim.per_layer):
                leaf = ctx.address(inner)[len("leaf:"):]
                for shift in (1, -1):
                    edits.append(Edit("neighbour-at", address, f"{i}:{shift}:{leaf}",
                                      f"{inner.name} → its layer {shift:+d} in {where}"))
    return edits


def apply(edit: Edit, root: Node, ctx: _Context, activations) -> Node:
    """`root` with `edit` made at every node of its address; unchanged where it has none (a recursion's
    last layer has no step to edit)."""
    if edit.address == "root":
        return _at_root(edit, root, ctx, activations)
    cache = {}

    def visit(node):
        if node in cache:
            return cache[node]
        if edit.address not in ctx.addresses_within(node):  # what _rebuilt would give: the node itself
            cache[node] = node
            return node
        rebuilt = tr._rebuilt(node, visit)
        new = rebuilt
        if ctx.address(node) == edit.address:
            new = _changed(edit, rebuilt, ctx, activations)
        cache[node] = new
        return new
    return visit(root)


def _changed(edit, node, ctx, activations):
    kind = edit.kind
    if kind == "transpose":
        return _T(node)
    if kind == "untranspose":
        return node.args[0]
    if kind in ("swap", "product"):
        a, b = node.args
        if edit.variant == "A*B":
            return _product("multiply", a, b)
        a, b = (_SWAPS if kind == "swap" else _TO_MATMUL)[edit.variant](a, b)
        return _product("matmul", a, b)
    if kind == "drop-derivative":
        return node.args[1 - int(edit.variant)]
    if kind == "regroup":
        index, variant = edit.variant.split(":")
        index = int(index)
        if not (_binary(node) and _binary(node.args[index])):  # the address's node, its operand not a product
            return node
        outer, inner = node.name, node.args[index].name
        p, q = node.args[index].args
        other = node.args[1 - index]
        if index == 1:  # other ∘ (p • q)
            return _product(inner, _product(outer, other, p), q) if variant == "outer-left" else \
                _product(inner, p, _product(outer, other, q))
        # (p • q) ∘ other
        return _product(inner, p, _product(outer, q, other)) if variant == "outer-left" else \
            _product(inner, _product(outer, p, other), q)
    if kind == "axis":  # the node's own keepdims kept: (n,) stays (n,), (1, n) becomes (n, 1)
        return Node("call", node.name, node.fn, node.args, {**node.kwargs, "axis": eval(edit.variant)}, node.ndim)
    if kind == "keepdims":
        return Node("call", node.name, node.fn, node.args, {**node.kwargs, "keepdims": True}, node.ndim + 1)
    if kind == "drop-index":
        return node.args[0]
    if kind == "add-bias":
        layer = _weight_layer(node)
        if layer is None:
            return node
        return _call("add", np.add, node, Node("leaf", f"b[{layer}]", ndim=1 if ctx.convention == "row" else 2),
                     ndim=node.ndim)
    if kind == "softmax-jacobian":
        found = _softmax_factor(node, activations)
        if found is None:
            return node
        other, layer = found
        g, s = node.args[other], Node("leaf", f"a[{layer}]", ndim=node.ndim)
        axis = 1 if ctx.convention == "row" else 0
        weighted = _call("sum", np.sum, _product("multiply", g, s), axis=axis, keepdims=True)
        return _product("multiply", s, _call("subtract", np.subtract, g, weighted, ndim=node.ndim))
    if kind == "neighbour-at":
        index, shift, _ = edit.variant.split(":")
        index, operand = int(index), node.args[int(index)]
        leaf = operand.args[0] if isinstance(operand, Node) and operand.op == "deriv" else operand
        if not (isinstance(leaf, Node) and leaf.op == "leaf" and "[" in leaf.name):
            return node
        number = int(leaf.name[:-1].split("[")[1]) + int(shift)
        moved = Node("leaf", f"{leaf.name.split('[')[0]}[{number}]", ndim=leaf.ndim)
        if operand.op == "deriv":  # the derivative of the neighbour layer's z, by that layer's activation
            act = activations[number] if 0 < number < len(activations) else None
            if act is None or act == "softmax":
                raise ValueError(f"layer {number} has no elementwise derivative")
            moved = Node("deriv", act, args=(moved,), ndim=operand.ndim)
        return Node(node.op, node.name, node.fn, node.args[:index] + (moved,) + node.args[index + 1:], node.kwargs,
                    node.ndim)
    if kind == "derivative-at-z":
        leaf = node.args[0]
        return Node("deriv", node.name, args=(Node("leaf", "z" + leaf.name[1:], ndim=leaf.ndim),), ndim=node.ndim)
    if kind == "drop-reduction":
        return node.args[0]
    if kind == "derivative-of-a":
        leaf = node.args[0]
        return Node("deriv", node.name, args=(Node("leaf", "a" + leaf.name[1:], ndim=leaf.ndim),), ndim=node.ndim)
    if kind == "derivative-form":
        name = _one_leaf_elementwise(node)
        layer = int(name[2:-1])
        act = activations[layer] if 0 < layer < len(activations) else None
        if act is None or act == "softmax":
            raise ValueError(f"{name} has no elementwise derivative")
        return Node("deriv", act, args=(Node("leaf", f"z[{layer}]", ndim=node.ndim),), ndim=node.ndim)
    if kind == "loss-derivative":
        if not _output_gradient_form(node, ctx) or ctx.loss is None:
            return node
        leaves = [Node("leaf", name, ndim=ndim) for name, ndim in ((f"a[{ctx.depth}]", 2), ("y", 2), ("N", 0))]
        return _call(f"{ctx.loss}'", functools.partial(loss_gradient, ctx.loss, ctx.convention), *leaves)
    if kind == "scale-term":
        return _scaled(node, edit.variant)
    if kind == "neighbour":
        number = int(node.name[:-1].split("[")[1]) + int(edit.variant)
        return Node("leaf", f"{node.name.split('[')[0]}[{number}]", ndim=node.ndim)
    raise ValueError(kind)


def _at_root(edit, root, ctx, activations):
    if edit.kind == "reduce":
        reduce, axis = edit.variant.split(":")
        return _call(reduce, getattr(np, reduce), root, axis=int(axis), keepdims=True)
    if edit.kind == "insert-derivative":
        act = activations[ctx.layer]
        if act == "softmax":
            raise ValueError("softmax has no elementwise derivative")
        return _product("multiply", root, Node("deriv", act, args=(Node("leaf", f"z[{ctx.layer}]"),)))
    raise ValueError(edit.kind)


# ---- claims relabelled --------------------------------------------------------------------------------

def relabels(claim: Quantity) -> list[tuple[str, Quantity]]:
    """(sentence, quantity) of the claim read at a neighbour layer or as another derivative."""
    out = []
    if claim.is_cost:
        return out
    for kind in ("z", "a"):
        if kind != claim.kind and claim.kind in ("z", "a"):
            out.append((f"the claim read as dC/d{kind}", Quantity(kind, claim.layer)))
    for shift in (1, -1):
        layer = claim.layer
        if isinstance(layer, int) and layer + shift >= 1:
            out.append((f"the claim read at layer {layer + shift}", Quantity(claim.kind, layer + shift)))
        elif claim.from_output is not None and claim.from_output - shift >= 0:
            k = claim.from_output - shift
            out.append((f"the claim read at layer {'L' if k == 0 else f'L-{k}'}", Quantity(claim.kind, "L" if k == 0 else f"L-{k}")))
    return out


# ---- judging a candidate ------------------------------------------------------------------------------

def _factors(net):
    return factor_values(net.batch, net.widths[-1])


def factor_values(N: int, K: int) -> dict:
    """The free constant factors by name (N the batch size, K the output width); "" is 1."""
    return {"": 1.0, "-1": -1.0, "2": 2.0, "1/2": 0.5, "-2": -2.0, "-1/2": -0.5, "N": N, "1/N": 1 / N, "-N": -N,
            "-1/N": -1 / N, "2/N": 2 / N, "1/(2N)": 1 / (2 * N), "N/2": N / 2, "2N": 2 * N, "K": K, "1/K": 1 / K}


def _replays(formula, root, view, layer, memo: dict | None = None) -> bool:
    """`root` replayed on `view` gives what the formula's compute gives there (or compute raises).
    memo: where the replay keeps its nodes' values (evaluate's), for an evaluation on `view` that follows."""
    try:
        with np.errstate(all="ignore"):
            direct = formula.compute(view, layer) if formula.per_layer else formula.compute(view)
    except Exception:
        return True
    try:
        replay = tr.evaluate(root, tr.leaf_values(view), memo=memo)
    except Exception:
        return False
    # Nearly bit for bit: the replay runs the same operations on the same arrays in the same order, so only the
    # rounding of a reduction over differently aligned copies may differ (a few ulps). Looser (it was rtol 1e-9,
    # atol 1e-12), a trace that had dropped terms passed: a Python loop over a width, unrolled on a twin of
    # another width, left out the saturated units of a wider network (terms ~1e-10 of the value), and the
    # repaired formula, not the formula, then failed a fresh search at 39x tolerance.
    direct = np.asarray(direct, dtype=np.float64)
    if np.shape(replay) != direct.shape:
        return False
    ulps = REPLAY_ULPS * np.finfo(tr.view_dtype(view)).eps
    scale = float(np.max(np.abs(direct), initial=0.0, where=np.isfinite(direct)))
    return np.allclose(replay, direct, rtol=ulps, atol=ulps * scale, equal_nan=True)


class _Traces:
    """What one repair search would otherwise trace again and again. The trace on a twin depends on the
    network's structure alone (trace.twin_key: depth, batch, activations, loss, convention, dtype; no widths, no
    values), so the failing networks and the fresh search's networks of one structure share it (the fresh
    search's 100 networks have ~25 structures), and so does that tree with a candidate's edits made."""

    def __init__(self):
        self._twins: dict = {}  # (compute, twin key, layer) -> trace.trace's (tree, twin) or None
        self._twin_roots: set = set()  # the trees in _twins
        self._edited: dict = {}  # (twin tree, edits, the context's fields) -> the tree with the edits made

    def on_twin(self, formula, view, layer):
        """trace.trace(formula.compute, view, layer), remembered by what it reads of `view`."""
        key = (formula.compute, tr.twin_key(view), layer)
        if key not in self._twins:
            traced = self._twins[key] = tr.trace(formula.compute, view, layer)
            if traced is not None:
                self._twin_roots.add(traced[0])
        return self._twins[key]

    def edited(self, root, edits, ctx, activations):
        """`root` with `edits` made (apply, in order); remembered for a tree traced on a twin (the key then
        holds everything apply reads), made afresh for one traced on a network itself."""
        if root not in self._twin_roots:
            return _applied(root, edits, ctx, activations)
        key = (root, tuple(edits), ctx.claim, ctx.depth, ctx.layer, ctx.convention, ctx.loss, tuple(activations))
        if key not in self._edited:
            self._edited[key] = _applied(root, edits, ctx, activations)
        return self._edited[key]


def _applied(root, edits, ctx, activations):
    for edit in edits:
        root = apply(edit, root, ctx, activations)
    return root


def _faithful_tree(formula, view, layer, traces: _Traces | None = None, memo: dict | None = None):
    """The formula's tree: traced on a twin (where a literal product conforms), or, when that does not
    replay on `view` (a Python loop over a layer's width), on `view` itself; None when neither does.
    traces: the repair search's, which remembers the trace on a twin; memo: the replays' node values on `view`."""
    for on_view in (False, True):
        if on_view or traces is None:
            traced = tr.trace(formula.compute, view, layer, on_view=on_view)
        else:
            traced = traces.on_twin(formula, view, layer)
        if traced is not None and _replays(formula, traced[0], view, layer, memo):
            return traced[0]
    return None


class _Case:
    """One failing network at one layer: its view, its trace, its oracle value for each quantity."""

    def __init__(self, formula, net, concrete: Quantity, memory: RunMemory, traces: _Traces | None = None):
        self.formula, self.net, self.memory = formula, net, memory
        self.layer = concrete.layer if formula.per_layer else None
        self.view = view_of(net, formula.convention)
        self.leaves = tr.leaf_values(self.view)
        self.ctx = _Context(formula.target, net.depth, concrete.layer if not concrete.is_cost else None,
                            formula.convention, self.view.loss)
        self.root = _faithful_tree(formula, self.view, self.layer, traces)
        self._concrete_claim, self._answers = concrete, None
        # Thousands of candidates are weighed against this one network, each a few edits away from the same
        # tree: the value of every node evaluated here (an edited tree shares its unchanged subtrees, so only
        # the nodes an edit made are evaluated anew), the trees made (edits -> tree or None), and per quantity
        # the oracle's value in the formula's convention and its tolerance.
        self.memo: dict = {}
        largest = max((np.asarray(v).nbytes for v in self.leaves.values()), default=8)
        self._memo_entries = max(1024, CASE_MEMO_BYTES // max(largest, 8))  # values of about a leaf's size each
        self.trees: dict = {(): self.root}
        self._oracles: dict = {}
        self._tolerances: dict = {}

    @property
    def answers(self) -> dict:
        """The first oracle's answers on the network (a Jacobian's, for a Jacobian claim): asked for only when
        a candidate is weighed here (a search that ends at the first network never needs the others')."""
        if self._answers is None:
            self._answers = next(iter(answers_for(self.net, self.memory, str(self._concrete_claim)).values()))
        return self._answers

    def faithful(self) -> bool:
        """The trace replayed on the real network gives what compute gives (or both raise)."""
        return _replays(self.formula, self.root, self.view, self.layer)

    def value(self, root):
        try:
            value = np.asarray(tr.evaluate(root, self.leaves, memo=self.memo), dtype=np.float64)
        except Exception:
            return None
        finally:
            self.trim()
        return value if np.all(np.isfinite(value)) else None

    def trim(self):
        """Empty the memo when it holds more than CASE_MEMO_BYTES' worth (a large network's candidates): it is a
        cache only, what it drops is evaluated again."""
        if len(self.memo) > self._memo_entries:
            self.memo.clear()

    def concrete(self, claim: Quantity) -> str | None:
        layers = claim.layers(self.net.depth)
        layer = self.ctx.layer if claim.per_layer else (layers[0] if layers else None)
        q = claim.at(layer) if not claim.is_cost else claim
        return str(q) if q.exists_on(self.net.depth) and str(q) in self.answers else None

    def plausible_factors(self, value, claim: Quantity) -> list[str]:
        """The free factors worth a fit: those near the least-squares ratio of the oracle to `value` (a
        fit within tolerance has that ratio to far better than the 10% asked); none when the shapes differ. Saves the ~15 fits
        of every candidate that cannot hold."""
        name = self.concrete(claim)
        if name is None:
            return []
        oracle = np.asarray(self.oracle(name), dtype=np.float64)
        if oracle.shape != np.shape(value):
            return []
        norm = float(np.vdot(value, value))
        factors = _factors(self.net)
        if norm == 0.0:
            return [""]
        ratio = float(np.vdot(value, oracle)) / norm
        return [f for f, v in factors.items() if abs(v - ratio) <= 0.1 * max(abs(ratio), abs(v))] or \
            ([""] if not np.any(oracle) else [])

    def oracle(self, name: str):
        """The oracle's value of quantity `name` in the formula's convention."""
        if name not in self._oracles:
            self._oracles[name] = expected_value(name, self.answers[name], self.formula.convention)
        return self._oracles[name]

    def fits(self, value, claim: Quantity, factor: str) -> bool:
        from backprop_audit.verdicts.diagnose import fits_within, tolerance_of
        name = self.concrete(claim)
        if name is None:
            return False
        if name not in self._tolerances:
            self._tolerances[name] = tolerance_of(self.net, name, self.formula.convention, self.memory)
        return fits_within(_factors(self.net)[factor] * value, self.oracle(name), self._tolerances[name])


def _edited(case: _Case, edits) -> Node | None:
    """The case's tree with `edits` made in order, None when one cannot be made; remembered by the case
    (a pair of edits starts from the tree of its first, which was tried alone before)."""
    edits = tuple(edits)
    if edits not in case.trees:
        root = _edited(case, edits[:-1])
        if root is not None:
            try:
                root = apply(edits[-1], root, case.ctx, case.view.activation)
            except ValueError:
                root = None
        case.trees[edits] = root
    return case.trees[edits]


def _candidates(case: _Case, others=()):
    """(edits, relabel, claim) smallest first: edit count plus one for a relabelled claim; then the
    chains forced by non-conforming products on any of the failing networks (a product of 1-wide
    factors conforms on one network and not on another, so each says where its products break)."""
    claim = case.formula.target
    acts = case.view.activation
    first = edits_of(case.root, case.ctx, acts)
    claims = [("", claim)] + relabels(claim)
    yield from (((), text, q) for text, q in claims)
    for edit in first:
        yield (edit,), "", claim
    for edit in term_factors_of(case.root, case.ctx):
        yield (edit,), "", claim
    for size in range(1, MAX_EDITS + 1):
        for edits in _combinations(case, first, size):
            for text, q in claims[1:] if size < MAX_EDITS else ():
                yield edits, text, q
            if size == MAX_EDITS:
                yield edits, "", claim
    seen = set()
    shapes = {(each.net.widths, each.net.batch): each for each in (case, *others)}  # one network per shape
    for edits in (chain for each in shapes.values() for chain in _forced_chains(each, each.root)):
        key = frozenset((e.kind, e.address, e.variant) for e in edits)
        if key not in seen:
            seen.add(key)
            yield edits, "", claim


def _forced_chains(case, root, edits=(), depth=FORCED_EDITS):
    """Chains of edits each made where the product fails to conform (at the node that raises or an
    operand of it): a literal formula whose every product is written in the wrong orientation needs one
    edit per product, and the shapes say where; only these get a third edit."""
    node = _raising_node(root, case.leaves, case.memo)
    case.trim()
    if node is None or depth == 0:
        if node is None and len(edits) > MAX_EDITS:
            yield edits
        return
    at = {case.ctx.address(n) for n in [node] + node.children()}
    for edit in edits_of(root, case.ctx, case.view.activation, only=at):
        if edit.address in at:
            try:
                edited = apply(edit, root, case.ctx, case.view.activation)
            except ValueError:
                continue
            yield from _forced_chains(case, edited, edits + (edit,), depth - 1)


def _raising_node(root, leaves, memo: dict | None = None):
    """The first node whose own operation raises on these leaves (its operands evaluate), or None.
    memo: node -> its value on these leaves, as evaluate keeps it (a case's)."""
    memo = {} if memo is None else memo

    def visit(node):
        if node in memo:  # evaluated, and so was every node below it: none of them raises
            return None
        for child in node.children():
            found = visit(child)
            if found is not None:
                return found
        try:
            tr.evaluate(node, leaves, memo=memo)
        except Exception:
            return node
        return None
    return visit(root)


def _combinations(case, first, size):
    if size == 1:
        yield from ((e,) for e in first)
        return
    seen = set()
    for edit in first:
        root = _edited(case, (edit,))
        if root is None:
            continue
        for second in edits_of(root, case.ctx, case.view.activation):
            key = frozenset({(edit.kind, edit.address, edit.variant), (second.kind, second.address, second.variant)})
            if len(key) == 2 and key not in seen:
                seen.add(key)
                yield edit, second


def find_repair(formula, outcomes, dtype, memory: RunMemory, examples: int = REPAIR_EXAMPLES) -> Repair | None:
    """The smallest edit of the formula as written that makes it hold on every failing outcome and on a
    fresh search of its setting; None when it cannot be traced or no edit of up to two steps fits."""
    start = time.perf_counter()
    traces = _Traces()
    cases = []
    for outcome in outcomes:
        if not outcome.quantity:
            continue
        case = _Case(formula, outcome.network, Quantity.parse(outcome.quantity), memory, traces)
        if case.root is None or not case.faithful():
            return None
        cases.append(case)
    if not cases:
        return None
    first = cases[0]
    tried = 0
    for edits, relabel, claim in _candidates(first, cases[1:]):
        tried += 1
        root = _edited(first, edits)
        if relabel and root is not None and _only_the_loss_derivative(root, first.ctx):
            continue
        value = None if root is None else first.value(root)
        if value is None:
            continue
        # a factor that fits the first network may be another's 1/N (N = 1): every factor that fits is tried
        # a factor on a term is the edit's own factor: with a free one in front it would be two ("W × 2, then × 1/2"
        # for "1/2 on the gradient term" of W - 2η·g)
        factors = [""] if any(e.kind == "scale-term" for e in edits) else first.plausible_factors(value, claim)
        factor = next((factor for factor in factors if first.fits(value, claim, factor)
                       and _holds_on(cases[1:], edits, claim, factor)), None)
        if factor is None:
            continue
        repaired = _repaired_formula(formula, edits, claim, factor, traces)
        from backprop_audit.searching.search import search
        result = search(repaired, dtype=dtype, examples=examples, shrink=False, seed=4242, memory=memory)
        if not (result.held and result.examples > 0):
            continue
        sentences = [e.text for e in edits] + ([relabel] if relabel else []) + ([f"× {factor}"] if factor else [])
        labels = [e.label for e in edits] + ([f"read as {claim}"] if relabel else []) + ([f"x {factor}"] if factor else [])
        fitted = [(case.net, case.concrete(claim)) for case in cases]
        text = symbols.expression_in_symbols(lambda view: _repaired_tree(formula, edits, view, first.layer, traces),
                                             first.view)
        return Repair(sentences, labels, _expression(text or tr.show(root), factor), str(claim), factor,
                      result.examples, time.perf_counter() - start, formula=repaired, cases=fitted)
    return None


def _only_the_loss_derivative(root: Node, ctx: _Context) -> bool:
    """The edited formula reads nothing but the loss's own dC/da[L] (and N). With the claim read as another
    quantity (dC/da[L]), such a "repair" is the oracle's value, true of any formula of that output: an outside
    tester's p - y on real targets got "N * (softmax_ce'(a[1], y, N) / N)", read as dC/da[L], where p - y needs
    rows of y that sum to 1 (a precondition). For a claim of dC/da[L] itself it says that the form written is
    not this loss's derivative (the squared loss's written for mae), and is kept."""
    outside, stack = set(), [root]
    while stack:
        node = stack.pop()
        if node.op == "call" and node.name == f"{ctx.loss}'":
            continue
        if node.op == "leaf":
            outside.add(node.name)
        stack.extend(node.children())
    return not outside - {"N"}


def _holds_on(cases, edits, claim, factor) -> bool:
    for case in cases:
        root = _edited(case, edits)
        value = None if root is None else case.value(root)
        if value is None or not case.fits(value, claim, factor):
            return False
    return True


def _expression(text: str, factor: str) -> str:
    """The corrected formula's text (symbols.expression_in_symbols, else the fitted network's tree printed),
    with the free factor in front."""
    return f"{factor} * ({text})" if factor else text


def _repaired_tree(formula, edits, view, layer, traces: _Traces | None = None, memo: dict | None = None) -> Node | None:
    """The formula's tree on `view` with the edits made (each by its address), None when it does not trace.
    traces: the repair search's (what it traced and edited before); memo: as _faithful_tree's."""
    traces = traces if traces is not None else _Traces()
    root = _faithful_tree(formula, view, layer, traces, memo)
    if root is None:
        return None
    ctx = _Context(formula.target, view.L, layer if formula.per_layer else _claim_layer(formula.target, view.L),
                   formula.convention, view.loss)
    return traces.edited(root, edits, ctx, view.activation)


def _repaired_formula(formula, edits, claim: Quantity, factor: str, traces: _Traces | None = None):
    """The formula with the edits made, as a record of its own (traced afresh on each network of a new
    shape; traces: the repair search's, whose traces on twins it reuses)."""
    trees = {}
    traces = traces if traces is not None else _Traces()

    def compute(view, layer=None):
        key = tr.tree_key(view, layer)
        memo = {}  # the replay's node values on this view: the edited tree shares its unchanged subtrees
        if key not in trees:
            trees[key] = _repaired_tree(formula, edits, view, layer, traces, memo)
        if trees[key] is None:
            raise ValueError("the formula could not be traced on this network")
        return factor_values(view.N, view.sizes[-1])[factor] * tr.evaluate(trees[key], tr.leaf_values(view), memo=memo)

    if formula.per_layer:
        body = compute
    else:
        def body(view):
            return compute(view)
    return dataclasses.replace(formula, id=f"{formula.id}-repaired", quantity=str(claim), compute=body,
                               expected="holds", expected_diagnosis=None, corrects=None, violates=None)


def _claim_layer(claim: Quantity, depth: int):
    return None if claim.is_cost else claim.layers(depth)[0]
