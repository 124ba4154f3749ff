"""A whole backprop from a user's own test: every layer's dC/dW and dC/db checked in one call.

The user hands `backprop(view) -> {layer: (dC/dW, dC/db)}` (the view of convention.py: W, b, z, a by
layer 1..L, x, y, N, in their convention), or `backprop(W, b, X, Y)` taking the lists W[0..L-1], b[0..L-1]
(layer l at index l - 1) and X, Y in their convention, with the same return value. It is checked as two
formulas of the engine, dC/dW[l] and dC/db[l] for every layer (each an ordinary audit: search, shrink,
diagnosis), on the same networks (one seed, one RunMemory). A failure names the wrong layers of its
minimal network, from the output down, the order backprop computes them in: the first wrong one there
is where the mistake enters (the layers below inherit it through δ). That layer is then diagnosed on
its own (the gradient at layer L, or L-k, as a formula of its own, searched and diagnosed like any other),
so a mistake made at the output is named there ("the factor ⊙ g'(z) is missing") even when every layer
below is wrong too and no single change fits all of them.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

from backprop_audit.api.holds import Result, run_check
from backprop_audit.api.message import failure_message, holds_message
from backprop_audit.api.options import resolved_seed
from backprop_audit.api.reproduce import python_call, setting_call
from backprop_audit.judging.evaluate import evaluate
from backprop_audit.judging.memory import RunMemory
from backprop_audit.model.formula import Formula, Setting, Source
from backprop_audit.model.network import DTYPES
from backprop_audit.verdicts.audit import audit

GRADIENTS = (("dC/dW", "W", 0), ("dC/db", "b", 1))  # (quantity, symbol, position in the (dW, db) pair)


def _takes_view(backprop) -> bool:
    """True for backprop(view), False for backprop(W, b, X, Y); TypeError for anything else."""
    try:
        parameters = inspect.signature(backprop).parameters.values()
    except (TypeError, ValueError):
        raise TypeError(f"backprop must be a function, got {type(backprop).__name__}") from None
    required = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                and p.default is p.empty]
    if len(required) not in (1, 4):
        raise TypeError(f"backprop must take the network's view (one argument) or W, b, X, Y (four), "
                        f"it takes {len(required)}")
    return len(required) == 1


def _gradients_of(backprop):
    """view -> backprop's {layer: (dW, db)}, computed once per view: the audit asks for each layer of one
    view in turn, and a backprop computes all layers at once."""
    takes_view = _takes_view(backprop)
    latest: list = []  # [(view, its gradients)]; holding the view keeps `is` meaningful

    def gradients(view) -> dict:
        if not latest or latest[0][0] is not view:
            found = backprop(view) if takes_view else backprop(view.W[1:], view.b[1:], view.x, view.y)
            latest[:] = [(view, found)]
        return latest[0][1]

    return gradients


def _layer(gradients: dict, layer: int, position: int):
    """The dW (position 0) or db (1) backprop returned for `layer`; a missing layer says what it returned."""
    if not hasattr(gradients, "keys"):
        raise TypeError(f"backprop returned {type(gradients).__name__}, not a mapping {{layer: (dC/dW, dC/db)}}")
    if layer not in gradients:
        raise KeyError(f"backprop returned no gradients for layer {layer} (it returned layers "
                       f"{sorted(gradients.keys())}; layers are numbered 1..L)")
    return gradients[layer][position]


def _name(backprop, name: str | None) -> str:
    """A formula id made of the function's name (ids are letters, digits, '.', '_', '-')."""
    name = name or getattr(backprop, "__name__", "") or "backprop"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "backprop"


def _formula(name: str, gradients, convention: str, setting: Setting, quantity: str, symbol: str,
             position: int, layer="l") -> Formula:
    per_layer = layer == "l"
    return Formula(
        id=f"{name}.d{symbol}" + ("" if per_layer else f"-{layer}"),
        title=f"{name}: {quantity}[{layer}]" + (" for every layer" if per_layer else ""),
        source=Source("user code", name, "backprop returns {layer: (dC/dW, dC/db)}"),
        written=rf"\partial C / \partial {symbol}^{{{layer}}}",
        convention=convention, quantity=f"{quantity}[{layer}]", setting=setting,
        compute=(lambda v, l: _layer(gradients(v), l, position)) if per_layer else
                (lambda v: _layer(gradients(v), layer, position)))


def _from_output(name: str, gradients, convention: str, setting: Setting, quantity: str, symbol: str,
                 position: int, k: int) -> Formula:
    """The gradient at layer L - k (k = 0: the output layer) on networks of every depth above k."""
    label = "L" if k == 0 else f"L-{k}"
    return Formula(
        id=f"{name}.d{symbol}-{label}", title=f"{name}: {quantity}[{label}]",
        source=Source("user code", name, "backprop returns {layer: (dC/dW, dC/db)}"),
        written=rf"\partial C / \partial {symbol}^{{{label}}}", convention=convention,
        quantity=f"{quantity}[{label}]", setting=setting.restricted(depth=(max(setting.depth[0], k + 1), setting.depth[1])),
        compute=lambda v: _layer(gradients(v), v.L - k, position))


def _first_wrong_diagnosis(result: Result, layers: list[int], make, examples, seed, reproduce, memory: RunMemory):
    """(label, Diagnosis) of the first wrong layer from the output, as a formula of its own; None when it
    holds on its own (a mistake the minimal network alone shows) or gives no diagnosis."""
    net = result.counterexample.network
    k = net.depth - layers[0]
    failing = next((s.dtype for s in result.formula_result.searches if not s.held), "float64")
    there = audit(make(k), examples=examples, dtypes=(failing,), seed=seed, reproduce=reproduce, memory=memory)
    if there.diagnosis is None:
        return None
    return ("L" if k == 0 else f"L-{k}"), there.diagnosis


def _raised(gradients, result: Result, convention: str) -> str | None:
    """What backprop raised on the minimal counterexample, None when it returned: raised there, every layer
    "fails" alike and no layer is where the mistake enters (an outside tester's dz @ W for dz @ W.T: "wrong first at
    layer 2", whose gradient was right, and "holds only when square layers" for it on its own)."""
    from backprop_audit.model.convention import view_of

    try:
        gradients(view_of(result.counterexample.network, convention))
    except Exception as error:  # the user's code, in the user's process: any exception is its answer
        return f"{type(error).__name__}: {error}"
    return None


def _wrong_layers(result: Result, make, memory: RunMemory) -> list[int]:
    """The layers of the minimal counterexample on which this gradient is wrong, from the output down."""
    net = result.counterexample.network
    return [l for l in range(net.depth, 0, -1) if evaluate(make(l), net, memory=memory).failed]


@dataclass(frozen=True)
class BackpropResult:
    """What check_backprop() found: one Result per gradient, and where each failing one is wrong."""

    name: str
    weights: Result  # dC/dW[l] for every layer
    biases: Result  # dC/db[l] for every layer
    wrong_layers: dict  # {"dC/dW": [layers], "dC/db": [layers]} at each failing one's minimal network, output first
    first_wrong_diagnosis: dict = None  # {"dC/dW": (layer label, Diagnosis)} of each failing one's first wrong layer
    raised: dict = None  # {"dC/dW": what backprop raised} where it raised on the minimal network (no layer named)

    @property
    def results(self) -> dict[str, Result]:
        return {"dC/dW": self.weights, "dC/db": self.biases}

    @property
    def holds(self) -> bool:
        return self.weights.holds and self.biases.holds

    @property
    def first_wrong(self) -> tuple[str, int] | None:
        """(quantity, layer): the first failing gradient (dW, then db) and its wrong layer nearest the output."""
        return next(((q, layers[0]) for q, layers in self.wrong_layers.items() if layers), None)

    @property
    def message(self) -> str:
        """One line per gradient that holds; for each that does not, where it is wrong, then its failure."""
        held = [holds_message(r.entry, r.seed, "backprop") for r in self.results.values() if r.holds]
        failed = [self._where(quantity) + "\n" + failure_message(r.entry, r.seed, "backprop")
                  for quantity, r in self.results.items() if not r.holds]
        return "\n".join(failed + held)

    def _where(self, quantity: str) -> str:
        raised = (self.raised or {}).get(quantity)
        if raised:
            return (f"backprop {self.name!r} raised on the minimal network below before returning any gradient, so no "
                    f"layer's {quantity} is named: {raised}")
        layers, depth = self.wrong_layers[quantity], self.results[quantity].counterexample.network.depth
        right = [l for l in range(depth, 0, -1) if l not in layers]
        there = (self.first_wrong_diagnosis or {}).get(quantity)
        return (f"backprop {self.name!r}: {quantity} is wrong first at layer {layers[0]} of {depth}, counted from "
                f"the output down (wrong at layers {', '.join(map(str, layers))}"
                f"{'; right at ' + ', '.join(map(str, right)) if right else ''}), on the minimal network below"
                + (f"\n  there, {quantity}[{there[0]}] on its own: {there[1].text}" if there else ""))


def check_backprop(backprop, *, convention: str, setting: Setting = Setting(), examples: int | None = None,
                   dtypes=DTYPES, seed=None, name: str | None = None) -> BackpropResult:
    """Check every layer's dC/dW and dC/db of `backprop` on networks within `setting` (see the module
    docstring for its two forms); options as check(). name: the id in messages (default its __name__)."""
    name, gradients, seed, memory = _name(backprop, name), _gradients_of(backprop), resolved_seed(seed), RunMemory()
    fixed = {"convention": repr(convention)} | ({} if setting == Setting() else {"setting": setting_call(setting)})
    call = python_call("assert_backprop", "backprop", **fixed)  # the call without its keyword-only convention failed
    reproduce = lambda formula_id, **options: call(name, **options)  # noqa: E731  (one line per backprop, not per gradient)
    results, wrong, diagnosed, raised = {}, {}, {}, {}
    for quantity, symbol, position in GRADIENTS:
        results[quantity] = result = run_check(
            _formula(name, gradients, convention, setting, quantity, symbol, position),
            examples=examples, dtypes=dtypes, seed=seed, reproduce=reproduce, memory=memory)
        if not result.holds and result.counterexample is not None:
            raised[quantity] = _raised(gradients, result, convention)
        wrong[quantity] = [] if result.holds else _wrong_layers(
            result, lambda l: _formula(name, gradients, convention, setting, quantity, symbol, position, l), memory)
        if wrong[quantity] and result.counterexample.network.depth > 1 and not raised.get(quantity):
            found = _first_wrong_diagnosis(
                result, wrong[quantity],
                lambda k: _from_output(name, gradients, convention, setting, quantity, symbol, position, k),
                result.examples, seed, reproduce, memory)
            if found is not None:
                diagnosed[quantity] = found
    return BackpropResult(name, results["dC/dW"], results["dC/db"], wrong, diagnosed, raised)


def assert_backprop(backprop, *, convention: str, setting: Setting = Setting(), examples: int | None = None,
                    dtypes=DTYPES, seed=None, name: str | None = None, err_msg: str = "") -> BackpropResult:
    """Raise AssertionError unless every layer's dC/dW and dC/db of `backprop` equals both oracles'; the
    message names the first wrong layer and shows the minimal network. Options as check_backprop()."""
    __tracebackhide__ = True  # pytest shows the caller's line, as for numpy.testing's asserts
    result = check_backprop(backprop, convention=convention, setting=setting, examples=examples, dtypes=dtypes,
                            seed=seed, name=name)
    if not result.holds:
        raise AssertionError((err_msg + "\n" if err_msg else "") + result.message)
    return result
