"""Trace a formula as written: run its compute on a view whose arrays record what is done to them.

A `Traced` array holds a concrete value and the `Node` that made it. NumPy hands every ufunc
(`__array_ufunc__`) and every array function (`__array_function__`, np.dot, np.diag, np.sum, ...) to
it, and its operators, `.T`, indexing and `astype` call those, so what compute does becomes a tree whose
leaves are the view's named arrays (W[l], b[l], z[l], a[l], x, y, N). The tree is generic: a call node
keeps the NumPy callable and its arguments, so `evaluate` replays it on any other network's view, and
an edit (verdicts/repair.py) is a change of the tree. Concrete values are needed while tracing because
a formula's Python decides on shapes and layer counts; the trace is therefore made on a "twin" of a
network, same depth, activations and loss, every layer as wide as needed for a literal product to
conform, so a formula that raises on the real network can still be traced.

A one-leaf elementwise subtree equal to the layer's g'(z) (a(1 - a) for a sigmoid, relu's (z > 0)) is
collapsed into a `deriv` node, so that g'(z) ↔ g'(a) is one edit and the tree prints as the text reads.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field

import numpy as np

from backprop_audit.model import operations
from backprop_audit.model.convention import View


@dataclass(eq=False)
class Node:
    """op: "leaf" (name), "call" (fn, args, kwargs: templates holding Nodes), "deriv" (name = the
    activation, args = (leaf,)), "oracle" (name = a quantity). Compared by identity (a tree is a DAG)."""

    op: str
    name: str
    fn: object = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    ndim: int = 0  # of the value it had on the twin: transposes are offered for 2-D nodes only

    def children(self):
        """The nodes among args and kwargs, in order (made once: a node's operands never change; the repair
        search walks the same trees thousands of times). Read it, never change it."""
        found = self.__dict__.get("_children")
        if found is None:
            found = self.__dict__["_children"] = [c for c in _nodes_in(self.args)] + \
                [c for c in _nodes_in(tuple(self.kwargs.values()))]
        return found


def _nodes_in(template):
    if isinstance(template, Node):
        yield template
    elif isinstance(template, (list, tuple)):
        for item in template:
            yield from _nodes_in(item)


class TraceError(Exception):
    """compute did something the tracer cannot record (a conversion to a plain array, say)."""


class Traced:
    """A concrete array and the node that computed it."""

    __slots__ = ("value", "node")

    def __init__(self, value, node):
        self.value, self.node = value, node

    # -- NumPy's protocols: every ufunc and array function comes here
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or "out" in kwargs:
            raise TraceError(f"{ufunc.__name__}.{method} is not traced")
        return _record(ufunc, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _record(func, args, kwargs)

    # -- operators and attributes, each one of NumPy's calls (Python's own between Python scalars: N * K)
    def __add__(self, o): return _arithmetic(operator.add, np.add, self, o)
    def __radd__(self, o): return _arithmetic(operator.add, np.add, o, self)
    def __sub__(self, o): return _arithmetic(operator.sub, np.subtract, self, o)
    def __rsub__(self, o): return _arithmetic(operator.sub, np.subtract, o, self)
    def __mul__(self, o): return _arithmetic(operator.mul, np.multiply, self, o)
    def __rmul__(self, o): return _arithmetic(operator.mul, np.multiply, o, self)
    def __truediv__(self, o): return _arithmetic(operator.truediv, np.true_divide, self, o)
    def __rtruediv__(self, o): return _arithmetic(operator.truediv, np.true_divide, o, self)
    def __matmul__(self, o): return np.matmul(self, o)
    def __rmatmul__(self, o): return np.matmul(o, self)
    def __pow__(self, o): return np.power(self, o)
    def __neg__(self): return np.negative(self)
    def __gt__(self, o): return np.greater(self, o)
    def __lt__(self, o): return np.less(self, o)
    def __ge__(self, o): return np.greater_equal(self, o)
    def __le__(self, o): return np.less_equal(self, o)
    def __eq__(self, o): return np.equal(self, o)
    __hash__ = None

    @property
    def T(self): return np.transpose(self)
    @property
    def shape(self): return self.value.shape
    @property
    def ndim(self): return self.value.ndim
    @property
    def dtype(self): return self.value.dtype
    @property
    def size(self): return self.value.size
    def __len__(self): return len(self.value)
    def __getitem__(self, key): return _record(operator.getitem, (self, key), {})
    def astype(self, dtype): return _record(_astype, (self, dtype), {})
    def sum(self, axis=None, keepdims=False): return np.sum(self, axis=axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims=False): return np.mean(self, axis=axis, keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return np.max(self, axis=axis, keepdims=keepdims)
    def min(self, axis=None, keepdims=False): return np.min(self, axis=axis, keepdims=keepdims)
    def reshape(self, *shape): return np.reshape(self, shape[0] if len(shape) == 1 else shape)
    def copy(self): return self
    # a traced scalar (N) used by Python: range(n.N), if n.N > 1
    def __index__(self): return operator.index(self.value)
    def __int__(self): return int(self.value)
    def __float__(self): return float(self.value)
    def __bool__(self): return bool(self.value)


def _python_scalar(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, np.generic)


def _arithmetic(op, ufunc, left, right):
    """Python's operator, recorded, when both operands are Python scalars (the traced N, a width, a constant),
    else the ufunc: N * K is a Python int in compute, and np.multiply's int64 would turn a float32 array
    divided by it into float64 on replay (NumPy 2 promotes by a NumPy scalar's dtype)."""
    if _python_scalar(_values(left)) and _python_scalar(_values(right)):
        return _record(op, (left, right), {})
    return ufunc(left, right)


def _astype(x, dtype):
    return np.asarray(x).astype(dtype)


def _template(x):
    """Traced -> its node; lists/tuples mapped; anything else kept as a constant."""
    if isinstance(x, Traced):
        return x.node
    if isinstance(x, (list, tuple)):
        return type(x)(_template(i) for i in x)
    return x


def _values(x):
    if isinstance(x, Traced):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(_values(i) for i in x)
    return x


def _record(fn, args, kwargs):
    value = fn(*_values(args), **{k: _values(v) for k, v in kwargs.items()})
    node = Node("call", getattr(fn, "__name__", str(fn)), fn, _template(tuple(args)),
                {k: _template(v) for k, v in kwargs.items()}, np.ndim(value))
    if isinstance(value, tuple):
        raise TraceError(f"{node.name} returned a tuple")
    return Traced(value, node)


# ---- evaluation: replay a tree on a view ---------------------------------------------------------

def leaf_values(view: View) -> dict:
    """Leaf name -> array of `view` (the names the tree's leaves carry)."""
    values = {"x": view.x, "y": view.y, "N": int(view.N)}  # a Python int, as compute sees it: float32 / N stays float32
    for name in ("l2", "eta"):  # λ and η: Python floats, as compute sees them, leaves of their own
        if getattr(view, name) is not None:
            values[name] = getattr(view, name)
    for kind in ("W", "b", "z", "a"):
        for l, v in enumerate(getattr(view, kind)):
            if v is not None:
                values[f"{kind}[{l}]"] = v
    return values


def evaluate(node: Node, leaves: dict, oracle: dict | None = None, memo: dict | None = None):
    """The value of `node` with the leaves (and oracle quantities) given; raises what NumPy raises."""
    memo = {} if memo is None else memo
    if node in memo:
        return memo[node]
    if node.op == "leaf":
        value = leaves[node.name]
    elif node.op == "oracle":
        value = oracle[node.name]
    elif node.op == "deriv":
        with np.errstate(all="ignore"):
            value = operations.derivative(node.name, evaluate(node.args[0], leaves, oracle, memo))
    else:
        args = _fill(node.args, leaves, oracle, memo)
        kwargs = {k: _fill(v, leaves, oracle, memo) for k, v in node.kwargs.items()}
        with np.errstate(all="ignore"):
            value = node.fn(*args, **kwargs)
    memo[node] = value
    return value


def _fill(template, leaves, oracle, memo):
    if isinstance(template, Node):
        return evaluate(template, leaves, oracle, memo)
    if isinstance(template, (list, tuple)):
        return type(template)(_fill(i, leaves, oracle, memo) for i in template)
    return template


# ---- the twin and the trace ------------------------------------------------------------------------

def twin_view(view: View, width: int, seed: int = 7, *, sizes: tuple | None = None, batch: int | None = None,
              eta: float | None = None, dtype=None) -> View:
    """A view with `view`'s depth, batch, activations, loss, convention and dtype, every layer `width` wide,
    random values and z, a from the activations (so a(1 - a) equals σ'(z) on it as on the real one).
    sizes, batch, eta: other widths n0..nL, batch size and η instead (the printer's views, verdicts/symbols.py);
    dtype: another dtype (the same draw, cast). The dtype is the view's because compute reads it: a constant it
    makes of a leaf's dtype (np.eye(n, dtype=v.dtype), v.astype(w.dtype)) is recorded in the tree as a value,
    and a float64 one made every float32 replay float64 (issue 15: a repair found in float32 failed its fresh
    search on the dtype)."""
    rng = np.random.default_rng(seed)
    L, column = view.L, view.convention == "column"
    N = view.N if batch is None else batch
    sizes = (width,) * (L + 1) if sizes is None else tuple(sizes)
    dtype = np.dtype(view_dtype(view) if dtype is None else dtype)

    def batch_of(n):  # a (units, batch) array in column layout, (batch, units) in row layout
        return rng.normal(size=(n, N) if column else (N, n)).astype(dtype, copy=False)
    x = batch_of(sizes[0])
    W, b, z, a = [None], [None], [None], [x]
    for l in range(1, L + 1):
        W.append(rng.normal(size=(sizes[l], sizes[l - 1]) if column else (sizes[l - 1], sizes[l])).astype(dtype, copy=False))
        b.append(rng.normal(size=(sizes[l], 1) if column else (sizes[l],)).astype(dtype, copy=False))
        z_l = batch_of(sizes[l])
        z.append(z_l)
        a.append(operations.activation(view.activation[l]).forward(z_l, axis=0 if column else -1))  # in z's dtype
    y = rng.uniform(0.05, 0.95, size=a[L].shape).astype(dtype, copy=False)
    labels = None if view.labels is None else rng.integers(0, sizes[-1], size=N)  # classes of the twin's own width
    return View(view.convention, L, N, sizes, x, y, W, b, z, a, list(view.activation), view.loss, view.l2,
                view.eta if eta is None else eta, labels=labels)


def twin_key(view: View) -> tuple:
    """Everything of `view` that twin_view reads (no widths, no values): views with the same key have the
    same twins, so a compute traced on the twins of one traces the same on the twins of the other."""
    return (view.convention, view.L, int(view.N), tuple(view.activation), view.loss, view.l2, view.eta,
            view.labels is None, view_dtype(view))


def tree_key(view: View, layer: int | None) -> tuple:
    """What a formula's traced (or edited) tree on `view` depends on: its shapes, activations, loss, the layer
    and the dtype (the tree holds the constants compute made of its leaves' dtype). A formula rewritten as a
    tree (repair._repaired_formula, numerical._rewrite_formula) keeps one tree per key."""
    return view.L, view.N, tuple(view.sizes), tuple(view.activation), view.loss, layer, view_dtype(view)


def view_dtype(view: View) -> np.dtype:
    """The dtype of the network's arrays (its input's)."""
    return np.asarray(view.x).dtype


def traced_view(view: View) -> View:
    """`view` with every array a named leaf."""
    def leaf(name, v, ndim=None):
        return Traced(v, Node("leaf", name, ndim=np.ndim(v)))

    def scalar(name, v):  # λ, η: leaves too (as constants of the tree a repaired step kept the twin's own η)
        return None if v is None else Traced(v, Node("leaf", name, ndim=0))
    lists = {kind: [None if v is None else leaf(f"{kind}[{l}]", v) for l, v in enumerate(getattr(view, kind))]
             for kind in ("W", "b", "z", "a")}
    return View(view.convention, view.L, Traced(int(view.N), Node("leaf", "N")), view.sizes, leaf("x", view.x),
                leaf("y", view.y), lists["W"], lists["b"], lists["z"], lists["a"], list(view.activation), view.loss,
                scalar("l2", view.l2), scalar("eta", view.eta),
                labels=view.labels)  # integer classes index arrays: not a leaf of the expression


def trace(compute, view: View, layer: int | None, *, collapse: bool = True, on_view: bool = False):
    """(tree, twin view) of compute on a twin of `view` (widths tried: N, 2, 3, 1), or None when no twin
    can be traced (compute raises on all, or does what the tracer cannot record). collapse=False keeps
    the derivative forms as written (the numerical diagnosis replays exp(-z) / (1 + exp(-z))**2 as such).
    on_view=True traces on `view` itself: for a formula whose Python loops over a layer's width (a sum
    written out over the nodes j), which a twin of other widths would record with its own count."""
    widths = ([view.N] if view.N >= 2 else []) + [2, 3, 1]
    for width in [None] if on_view else dict.fromkeys(widths):
        twin = view if on_view else twin_view(view, width)
        try:
            with np.errstate(all="ignore"):
                out = compute(traced_view(twin)) if layer is None else compute(traced_view(twin), layer)
        except Exception:
            continue
        if isinstance(out, Traced):
            if not collapse:
                return out.node, twin
            # a derivative form is recognised on float64 values (to 1e-9): on a float32 twin, the same draw in float64
            exact = twin if on_view or twin.x.dtype == np.float64 else twin_view(view, width, dtype=np.float64)
            return collapse_derivatives(out.node, leaf_values(exact), exact), twin
    return None


# Values a derivative form is compared on besides the twin's own: both signs, no kink (relu at 0), none
# of magnitude 1, so a form that matches g' only on the twin's few values (max(z, 0) where every z < 0)
# is not collapsed. Each array is filled three times, rolled, so even a 1 x 1 leaf sees both signs.
_PROBE = np.array([0.4, -2.3, 1.7, -0.35, 2.8, -1.1, 0.9, -0.8, 1.2, -1.6])


def _probes_like(shape):
    return [np.resize(np.roll(_PROBE, k), shape) if shape else np.asarray(np.roll(_PROBE, k)[0]) for k in range(3)]


def _form_of(node: Node, leaf: Node, leaves: dict, twin: View, memo: dict):
    """("z" or "a", activation) when the one-leaf subtree `node` over `leaf` (z[l] or a[l]) equals
    g'(z[l]) (kind "z"), or g'(a[l]) (kind "a": the derivative taken of a, as a text may write it), on
    the twin and on probe values; None otherwise."""
    layer = int(leaf.name[2:-1])
    act = twin.activation[layer] if 0 < layer < len(twin.activation) else None
    if not act or operations.activation(act).coupled:
        return None
    z_name, value = f"z[{layer}]", evaluate(node, leaves, memo=memo)
    if np.shape(value) != leaves[z_name].shape:
        return None
    kinds = ["z"] if leaf.name.startswith("z") else ["z", "a"]  # a form over z is never g'(a)
    with np.errstate(all="ignore"):
        kinds = [k for k in kinds if np.allclose(value, operations.derivative(act, leaves[f"{k}[{layer}]"]),
                                                  rtol=1e-9, atol=1e-12)]
    if not kinds:  # what the probes would end in too (a probe that raises also gives None)
        return None
    for z_probe in _probes_like(leaves[z_name].shape):
        a_probe = operations.activation(act).numpy(z_probe)
        try:
            with np.errstate(all="ignore"):
                probed = evaluate(node, {**leaves, leaf.name: z_probe if leaf.name.startswith("z") else a_probe})
                kinds = [k for k in kinds if np.allclose(probed, operations.derivative(act, z_probe if k == "z" else a_probe),
                                                          rtol=1e-9, atol=1e-12)]
        except Exception:
            return None
    return (kinds[0], act) if kinds else None


# Calls besides the ufuncs that keep a subtree elementwise: a cast, ones_like, the dtype a cast is to
# (operations.erf casts to np.result_type(z, float32), which NumPy hands the tracer as a call on z), and
# Python's operators between scalars (_arithmetic).
ELEMENTWISE_CALLS = ("_astype", "ones_like", "result_type", "add", "sub", "mul", "truediv")


def collapse_derivatives(root: Node, leaves: dict, twin: View) -> Node:
    """Replace each one-leaf elementwise subtree equal to g'(z[l]) by a deriv node of z[l], and each
    equal to g'(a[l]) (the derivative of the wrong argument) by a deriv node of a[l]."""
    memo, replaced = {}, {}

    def one_leaf(node):
        found = set()
        stack = [node]
        while stack:
            n = stack.pop()
            if n.op == "leaf":
                found.add(n)
            elif n.op == "call":
                if not isinstance(n.fn, np.ufunc) and n.name not in ELEMENTWISE_CALLS:
                    return None
                stack.extend(n.children())
            else:
                return None
        return next(iter(found)) if len(found) == 1 else None

    def visit(node):
        if node in replaced:
            return replaced[node]
        new = node
        if node.op == "call":
            leaf = one_leaf(node)
            if leaf is not None and leaf.name[:2] in ("z[", "a["):
                form = _form_of(node, leaf, leaves, twin, memo)
                if form is not None:
                    kind, act = form
                    new = Node("deriv", act, args=(Node("leaf", f"{kind}[{leaf.name[2:-1]}]", ndim=leaf.ndim),),
                               ndim=leaf.ndim)
            if new is node:
                new = _rebuilt(node, visit)
        replaced[node] = new
        return new
    return visit(root)


def _rebuilt(node: Node, visit) -> Node:
    """node with every child passed through visit (the same node when nothing changed)."""
    args = _map(node.args, visit)
    kwargs = {k: _map(v, visit) for k, v in node.kwargs.items()}
    if _same(args, node.args) and all(_same(kwargs[k], node.kwargs[k]) for k in kwargs):
        return node
    return Node(node.op, node.name, node.fn, args, kwargs, node.ndim)


def _map(template, f):
    if isinstance(template, Node):
        return f(template)
    if isinstance(template, (list, tuple)):
        return type(template)(_map(i, f) for i in template)
    return template


def _same(a, b):
    if isinstance(a, Node) or isinstance(b, Node):
        return a is b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a is b


# ---- printing ----------------------------------------------------------------------------------------

_INFIX = {"add": ("+", 1), "subtract": ("-", 1), "multiply": ("*", 2), "true_divide": ("/", 2),
          "sub": ("-", 1), "mul": ("*", 2), "truediv": ("/", 2),  # Python's operators between scalars
          "divide": ("/", 2), "matmul": ("@", 2), "dot": ("@", 2), "power": ("**", 4)}
_GREEK = {"sigmoid": "σ'", "tanh": "tanh'", "relu": "relu'", "identity": "id'", "softplus": "softplus'"}


def show(node: Node) -> str:
    return _show(node)[0]


def brief(node: Node, width: int = 40) -> str:
    """show(node), with an operand longer than `width` written "…" (an edit's sentence names the node)."""
    text = show(node)
    if len(text) <= width or node.op != "call" or node.name not in _INFIX or len(node.args) != 2:
        return text
    symbol = _INFIX[node.name][0]
    parts = [show(a) if isinstance(a, Node) and len(show(a)) <= width // 2 else "(…)" for a in node.args]
    return f"{parts[0]} {symbol} {parts[1]}"


_SCALAR_SYMBOLS = {"eta": "η", "l2": "λ"}  # the leaves of v.eta and v.l2, printed as the texts write them


def _show(node):
    """(text, precedence)."""
    if node.op in ("leaf", "oracle"):
        return _SCALAR_SYMBOLS.get(node.name, node.name), 9
    if node.op == "deriv":
        return f"{_GREEK.get(node.name, node.name + chr(39))}({show(node.args[0])})", 9
    if node.op == "sum-over":  # a Python sum over an index, folded (verdicts/symbols.py)
        return f"sum({show(node.args[0])} for {node.name} in range({_part(node.kwargs['count'])[0]}))", 9
    name, args = node.name, node.args
    if name == "add" and len(args) == 2 and not node.kwargs and any(_is_zero(a) for a in args):
        return _show(next(a for a in args if not _is_zero(a)))  # Python's sum() starts from 0
    if name in _INFIX and len(args) == 2 and not node.kwargs:
        symbol, prec = _INFIX[name]
        left, lp = _part(args[0])
        right, rp = _part(args[1])
        left = left if lp >= prec else f"({left})"
        right = right if rp > prec else f"({right})"
        return f"{left} {symbol} {right}", prec
    if name == "negative":
        text, p = _part(args[0])
        return "-" + (text if p >= 3 else f"({text})"), 3
    if name == "transpose" and len(args) == 1:
        text, p = _part(args[0])
        return (text if p >= 9 else f"({text})") + ".T", 9
    if name == "getitem":
        text, p = _part(args[0])
        return (text if p >= 9 else f"({text})") + f"[{_key(args[1])}]", 9
    if name == "_astype":
        return _part(args[0])[0], 9
    parts = [_part(a)[0] for a in args] + [f"{k}={_part(v)[0]}" for k, v in node.kwargs.items()
                                           if not _default(k, v)]  # NumPy's defaults, unwritten
    if name.endswith("'"):  # a loss row's derivative put in by a repair (mae'(a[L], y, N)): not NumPy's
        return f"{name}({', '.join(parts)})", 9
    return f"np.{name}({', '.join(parts)})", 9


def _default(keyword, value) -> bool:
    """A reduction's keyword at NumPy's default (keepdims=False, axis=None): not printed."""
    return (keyword == "keepdims" and value is False) or (keyword == "axis" and value is None)


def _part(template):
    if isinstance(template, Node):
        return _show(template)
    if isinstance(template, (float, np.floating)):  # np.float32(2.0) as the record writes it: 2
        return f"{float(template):.6g}", 9
    if isinstance(template, np.integer):
        return str(int(template)), 9
    if isinstance(template, np.ndarray) and template.dtype.kind == "f":  # printed alike in either dtype (no
        return repr(template.astype(np.float64)), 9                      # "dtype=float32" in float32 only)
    return repr(template), 9


def _is_zero(template) -> bool:
    return not isinstance(template, Node) and isinstance(template, (int, float)) and template == 0 \
        and not isinstance(template, bool)


def _slice(k: slice) -> str:
    return ":".join("" if v is None else str(v) for v in (k.start, k.stop) + ((k.step,) if k.step is not None else ()))


def _key(key):
    items = key if isinstance(key, tuple) else (key,)
    return ", ".join(_slice(k) if isinstance(k, slice) else repr(k) for k in items)
