"""Failures of arithmetic, not of mathematics: told apart before any precondition is named.

- Numerically unstable as written: the formula gives NaN or ±inf where the exact value (the oracles')
  is finite, or its float32 value fails where the same network in float64 holds. The trace of the
  formula as written (derivative forms kept, verdicts/trace.py) is replayed on the failing network in
  its own dtype to find the first operation that turns finite operands into inf or NaN (an exp that
  overflows, a 0/0 after an underflow, a log of 0), and stable rewrites are tried: the derivative forms
  as g'(z) of the operation table (σ' as σ(1 - σ), never e^{-z}/(1 + e^{-z})²), log-sum-exp with the
  maximum shifted out, log σ(x) and log(1 + e^x) by np.logaddexp, the log of a softmax as its log-softmax.
  A rewrite counts only when it holds on every failing network and on a fresh search of the formula's
  setting in that dtype. A derivative form that cancels (in float64 too, no NaN) is found by the repair
  search as its edit-free candidate, and said as this (diagnose._cancellation_diagnosis).
- A rounding-level difference: every failure is within ROUNDING_RATIO times the tolerance (the values
  agree to all but their last few digits). That is how the formula rounds, not what it computes, and
  no restriction of the setting explains it.
"""
from __future__ import annotations

import time

import numpy as np

from backprop_audit.judging import untrusted
from backprop_audit.judging.evaluate import evaluate
from backprop_audit.judging.memory import RunMemory
from backprop_audit.model.convention import view_of
from backprop_audit.model.quantity import Quantity
from backprop_audit.verdicts import trace as tr
from backprop_audit.verdicts.trace import Node
from backprop_audit.verdicts.vocabulary import Finding, Verdict

ROUNDING_RATIO = 100.0  # a failure below this many tolerances is rounding (the "ratio below ~100")
REWRITE_EXAMPLES = 100  # the fresh search a stable rewrite must survive (as a repair's)
_UPCAST_CHECKS = 4  # float32 mismatches re-checked in float64 (each a new oracle call)


def _finite(x) -> bool:
    return bool(np.all(np.isfinite(np.asarray(x, dtype=np.float64))))


def _exact_is_finite(outcome) -> bool:
    return bool(outcome.oracle) and all(_finite(values[outcome.quantity]) for values in outcome.oracle.values()
                                        if outcome.quantity in values)


def finite_in_extended_precision(formula, outcome) -> bool | None:
    """Whether the formula as written is finite on the failing network in extended precision (np.longdouble,
    the forward pass z, a computed in it too): a NaN or inf that float64's range or rounding made (e^z past
    e^709, a σ that rounded to exactly 1 under a log(1 - a)) is gone there; one the formula itself makes (0/0
    of a divisor that is 0 for every input) is not. None when it cannot tell: no wider type on this machine
    (np.longdouble is float64 on some), or the formula does not run on it (a SciPy function without that type).
    A network past even the extended range (e^z, z > 11356) reads as the formula's own: the diagnosis asks it
    of every failure, and the shrunk one sits just past the dtype's limit, well inside that range."""
    if np.finfo(np.longdouble).maxexp <= np.finfo(np.float64).maxexp:
        return None
    view = view_of(outcome.network.in_extended_precision(), formula.convention)
    layer = Quantity.parse(outcome.quantity).layer if formula.per_layer else None
    try:
        value = np.asarray(untrusted.call(formula, view, layer))
        return bool(np.all(np.isfinite(value))) if value.dtype.kind in "fc" else None
    except Exception:  # the formula's error on this dtype (untrusted.FormulaRaised), or a value NumPy cannot read
        return None


def is_numerical(formula, outcome, memory: RunMemory) -> bool:
    """The failure is one of arithmetic: NaN/inf where the exact value is finite, or a float32 mismatch
    on a network whose float64 twin (the same numbers, cast up) holds."""
    if outcome.kind == Finding.NONFINITE:
        return _exact_is_finite(outcome)
    if outcome.kind == Finding.MISMATCH and outcome.network.dtype == np.float32:
        return evaluate(formula, outcome.network.astype(np.float64), memory=memory).status == Verdict.HOLDS
    return False


def numerical_failures(formula, outcomes, memory: RunMemory) -> list:
    """The outcomes whose failure is numerical (float32 mismatches: the first few only, each costs oracles)."""
    found, upcast = [], 0
    for outcome in outcomes:
        if outcome.kind == Finding.MISMATCH and outcome.network.dtype == np.float32:
            upcast += 1
            if upcast > _UPCAST_CHECKS:
                continue
        if is_numerical(formula, outcome, memory):
            found.append(outcome)
    return found


def rounding_level(outcomes) -> float | None:
    """The worst ratio when every failure is a mismatch within ROUNDING_RATIO tolerances, else None."""
    ratios = [o.ratio for o in outcomes]
    if not outcomes or any(o.kind != Finding.MISMATCH for o in outcomes) or not all(np.isfinite(ratios)):
        return None
    worst = max(ratios)
    return worst if worst < ROUNDING_RATIO else None


def agreeing_digits(outcomes) -> int:
    """The significant digits manual and oracle values share on every failure (at the worst entry)."""
    digits = 16
    for o in outcomes:
        m = np.asarray(o.manual[o.quantity], dtype=np.float64)
        e = np.asarray(next(iter(o.oracle.values()))[o.quantity], dtype=np.float64)
        scale = np.maximum(np.abs(e), np.finfo(np.float64).tiny)
        worst = float(np.max(np.abs(m - e) / scale))
        digits = min(digits, int(np.floor(-np.log10(worst))) if worst > 0 else 16)
    return max(digits, 0)


# ---- where it overflows ------------------------------------------------------------------------------

def _case_tree(formula, outcome, collapse: bool):
    """(tree, leaves of the failing network in its own dtype) of the formula as written, or None."""
    view = view_of(outcome.network, formula.convention)
    layer = Quantity.parse(outcome.quantity).layer if formula.per_layer else None
    traced = tr.trace(formula.compute, view, layer, collapse=collapse)
    return None if traced is None else (traced[0], tr.leaf_values(view))


def _values_of(node: Node, leaves, memo):
    try:
        return np.asarray(tr.evaluate(node, leaves, memo=memo))
    except Exception:
        return None


def _first_nonfinite(root: Node, leaves):
    """(node, its operands' values): followed down from the root through non-finite values, the node
    whose operands are all finite but whose value is not, where the NaN or inf the formula returns is
    made (an exp's inf that a later 1/(1 + inf) turns into a harmless 0 is not it); None when the root is
    finite or the tree does not replay."""
    memo = {}

    def nonfinite(value):
        return value is not None and value.dtype.kind in "fc" and not _finite(value)

    node = root
    if not nonfinite(_values_of(node, leaves, memo)):
        return None
    while True:
        operands = [_values_of(c, leaves, memo) for c in node.children()]
        below = next((c for c, v in zip(node.children(), operands) if nonfinite(v)), None)
        if below is None:
            return node, operands
        node = below


def where_it_breaks(formula, outcome, exactly: bool = False) -> str:
    """A sentence naming the operation that overflows (or divides 0 by 0, or takes log 0) on `outcome`'s
    network, in the network's dtype; "" when no single operation can be named. exactly: the formula is
    undefined there in extended precision too (undefined_as_written), so no "underflowed" is guessed."""
    traced = _case_tree(formula, outcome, collapse=False)
    if traced is None:
        return ""
    found = _first_nonfinite(*traced)
    if found is None:
        return ""
    node, operands = found
    dtype = outcome.network.dtype
    text = tr.brief(node, 48)
    if node.name == "exp":
        limit = float(np.log(np.finfo(dtype).max))
        return (f"{text} overflows: its argument reaches {float(np.max(operands[0])):.4g}, beyond "
                f"log(max {dtype}) ≈ {limit:.4g}")
    if _is(node, "true_divide", 2):
        num, den = (np.broadcast_to(o, np.broadcast_shapes(*(np.shape(x) for x in operands))) for o in operands)
        if np.any((den == 0) & (num == 0)):
            return f"{text} divides 0 by 0" + ("" if exactly else " (an operand underflowed to 0 or cancelled exactly)")
        if np.any(den == 0):
            return f"{text} divides by 0" + ("" if exactly else " (the divisor underflowed to 0 or cancelled exactly)")
        return f"{text} overflows ({dtype}'s largest is {float(np.finfo(dtype).max):.3g})"
    if node.name in ("log", "log2", "log10") and operands:
        return f"{text} takes the log of 0" + ("" if exactly else f" (its argument underflowed to 0 in {dtype})")
    if node.name == "multiply":
        return f"{text} multiplies inf by 0 or overflows ({dtype}'s largest is {float(np.finfo(dtype).max):.3g})"
    return f"{text} gives inf or NaN from finite operands in {dtype}"


def undefined_as_written(formula, failures) -> bool:
    """Every NaN or inf among `failures` (the first few) stays in extended precision: the formula as written
    makes it (a 0/0 whose operands are 0 for these inputs, the sqrt of a negative number), not the dtype's range
    or rounding, so no rewrite in stable arithmetic can help (a reviewer read "numerically unstable ... an operand
    underflowed to 0" for a formula that is 0/0 on every network)."""
    nonfinite = [o for o in failures if o.kind == Finding.NONFINITE][:3]
    return bool(nonfinite) and all(finite_in_extended_precision(formula, o) is False for o in nonfinite)


# ---- stable rewrites ---------------------------------------------------------------------------------

def _call(name, *args, **kwargs):
    return Node("call", name, getattr(np, name), tuple(args), kwargs, max((getattr(a, "ndim", 0) for a in args), default=0))


_SAME = {"true_divide": ("true_divide", "divide")}  # np.true_divide is np.divide: traced as either name


def _is(node, name, arity=None) -> bool:
    return isinstance(node, Node) and node.op == "call" and node.name in _SAME.get(name, (name,)) and \
        (arity is None or len(node.args) == arity)


def _constant(node, value) -> bool:
    return not isinstance(node, Node) and np.ndim(node) == 0 and float(node) == value


def _sigmoid_argument(node):
    """X when node is 1 / (1 + exp(-X)) as traced (operations.sigmoid, or written out), else None."""
    if not (_is(node, "true_divide", 2) and _constant(node.args[0], 1.0)):
        return None
    den = node.args[1]
    if not _is(den, "add", 2):
        return None
    one, e = den.args if _constant(den.args[0], 1.0) else den.args[::-1]
    if not (_constant(one, 1.0) and _is(e, "exp", 1) and _is(e.args[0], "negative", 1)):
        return None
    return e.args[0].args[0]


def _log_sigmoid(node):
    """log σ(X) → -logaddexp(0, -X); log(1 - σ(X)) → -logaddexp(0, X)."""
    if not _is(node, "log", 1):
        return None
    inner = node.args[0]
    x = _sigmoid_argument(inner)
    if x is not None:
        return _call("negative", _call("logaddexp", 0.0, _call("negative", x)))
    if _is(inner, "subtract", 2) and _constant(inner.args[0], 1.0):
        x = _sigmoid_argument(inner.args[1])
        if x is not None:
            return _call("negative", _call("logaddexp", 0.0, x))
    return None


def _log_sum_exp(node):
    """log Σ exp(X) (over an axis) → m + log Σ exp(X - m), m the maximum over that axis."""
    if not (_is(node, "log", 1) and _is(node.args[0], "sum") and _is(node.args[0].args[0], "exp", 1)):
        return None
    total = node.args[0]
    x = total.args[0].args[0]
    axis, keep = total.kwargs.get("axis"), total.kwargs.get("keepdims", False)
    m = _call("max", x, axis=axis, keepdims=True)
    shifted = Node("call", "sum", np.sum, (_call("exp", _call("subtract", x, m)),), {"axis": axis, "keepdims": True},
                   total.ndim)
    out = _call("add", m, _call("log", shifted))
    return out if keep or axis is None else _call("squeeze", out, axis=axis)


def _softmax_shift(node):
    """exp(X) / Σ exp(X) → exp(X - m) / Σ exp(X - m)."""
    if not (_is(node, "true_divide", 2) and _is(node.args[0], "exp", 1) and _is(node.args[1], "sum")
            and _is(node.args[1].args[0], "exp", 1) and node.args[1].args[0].args[0] is node.args[0].args[0]):
        return None
    x, total = node.args[0].args[0], node.args[1]
    m = _call("max", x, axis=total.kwargs.get("axis"), keepdims=True)
    e = _call("exp", _call("subtract", x, m))
    return _call("true_divide", e, Node("call", "sum", np.sum, (e,), dict(total.kwargs), total.ndim))


def _log_one_plus_exp(node):
    """log(1 + exp(X)) and log1p(exp(X)) (softplus, -log σ(-X) written out) → logaddexp(0, X). exp(X) overflows
    past X ≈ 709 (88 in float32) where the value is ≈ X (an outside tester's two got "no stable rewrite")."""
    if _is(node, "log1p", 1) and _is(node.args[0], "exp", 1):
        return _call("logaddexp", 0.0, node.args[0].args[0])
    if not (_is(node, "log", 1) and _is(node.args[0], "add", 2)):
        return None
    one, e = node.args[0].args if _constant(node.args[0].args[0], 1.0) else node.args[0].args[::-1]
    if _constant(one, 1.0) and _is(e, "exp", 1):
        return _call("logaddexp", 0.0, e.args[0])
    return None


def _log_softmax(node):
    """log(exp(X) / Σ exp(X)) → (X - m) - log Σ exp(X - m), m the maximum over the sum's axis: the log of a
    saturated softmax's 0 is -inf where its log-softmax is finite (the max-shifted softmax alone still underflows)."""
    if not (_is(node, "log", 1) and _is(node.args[0], "true_divide", 2)):
        return None
    top, total = node.args[0].args
    if not (_is(top, "exp", 1) and _is(total, "sum") and _is(total.args[0], "exp", 1)
            and total.args[0].args[0] is top.args[0]):
        return None
    x, axis = top.args[0], total.kwargs.get("axis")
    already = _is(x, "subtract", 2) and _is(x.args[1], "max") and x.args[1].args[0] is x.args[0]  # _softmax_shift's
    shifted = x if already else _call("subtract", x, _call("max", x, axis=axis, keepdims=True))
    log_total = _call("log", Node("call", "sum", np.sum, (_call("exp", shifted),), {"axis": axis, "keepdims": True},
                                  total.ndim))
    return _call("subtract", shifted, log_total)


_RULES = (_log_sigmoid, _log_one_plus_exp, _log_softmax, _log_sum_exp, _softmax_shift)


def _rewritten(root: Node) -> Node:
    """root with every stable-rewrite rule applied wherever it matches."""
    cache = {}

    def visit(node):
        if node in cache:
            return cache[node]
        new = tr._rebuilt(node, visit)
        for rule in _RULES:
            replaced = rule(new)
            if replaced is not None:
                new = replaced
                break
        cache[node] = new
        return new
    return visit(root)


def _rewrite_formula(formula, collapse: bool, rules: bool):
    """The formula traced afresh on each network (derivative forms collapsed to g'(z) when `collapse`,
    the rules applied when `rules`), evaluated in the network's own dtype."""
    import dataclasses

    trees = {}

    def compute(view, layer=None):
        key = tr.tree_key(view, layer)
        if key not in trees:
            traced = tr.trace(formula.compute, view, layer, collapse=collapse)
            trees[key] = None if traced is None else (_rewritten(traced[0]) if rules else traced[0])
        if trees[key] is None:
            raise ValueError("the formula could not be traced on this network")
        return tr.evaluate(trees[key], tr.leaf_values(view))

    body = compute if formula.per_layer else (lambda view: compute(view))
    return dataclasses.replace(formula, id=f"{formula.id}-stable", compute=body, expected="holds",
                               expected_diagnosis=None, corrects=None, violates=None)


DERIVATIVE_FORMS = "the derivative forms as g'(z) of the operation table"  # a rewrite's words (also diagnose's)


def stable_rewrite(formula, failures, dtype: str, memory: RunMemory):
    """The first stable rewrite that holds on every numerical failure and a fresh search, as a Repair
    (verdicts/repair.py), or None."""
    from backprop_audit.searching.search import search
    from backprop_audit.verdicts.repair import Repair

    start = time.perf_counter()
    first = failures[0]
    written = _case_tree(formula, first, collapse=False)
    if written is None:
        return None
    plain = tr.show(written[0])
    for collapse, rules, sentence in ((True, False, DERIVATIVE_FORMS),
                                      (False, True, "log-sum-exp / log-sigmoid forms"),
                                      (True, True, "g'(z) forms and log-sum-exp / log-sigmoid forms")):
        candidate = _rewrite_formula(formula, collapse, rules)
        tree = _case_tree(formula, first, collapse=collapse)
        if tree is None:
            continue
        root = _rewritten(tree[0]) if rules else tree[0]
        expression = tr.show(root)
        if expression == plain:
            continue
        if not all(evaluate(candidate, o.network, memory=memory).status == Verdict.HOLDS for o in failures):
            continue
        result = search(candidate, dtype=dtype, examples=REWRITE_EXAMPLES, shrink=False, seed=4242, memory=memory)
        if result.held and result.examples > 0:
            return Repair([f"rewrite with {sentence}"], ["stable rewrite"], expression, formula.quantity, "",
                          result.examples, time.perf_counter() - start, formula=candidate,
                          cases=[(o.network, o.quantity) for o in failures])
    return None
