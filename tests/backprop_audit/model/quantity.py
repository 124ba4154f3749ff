"""The quantities a formula can claim to equal, and the names the oracles' answers are keyed by.

A quantity is the cost C itself, or the derivative of C with respect to W, b, z or a at one layer:

    C            the loss value
    dC/dW[2]     a concrete layer: what an oracle returns, what a message or report.json names
    dC/dz[l]     a claim about every layer l = 1..L (compute(view, l) is called once per layer)
    dC/da[L]     a claim about the output layer
    dC/db[L-1]   a claim about a layer counted from the output
    W'[l], b'[L] the parameters after one gradient-descent step, W - η·dC/dW (the network's η, Setting.eta):
                 what an update listing returns, compared as itself (never read back as (W - W')/η)

The text is parsed once (`Quantity.parse`); everything else asks the value: its kind, its layer, the
concrete quantity at a layer of a network, a neighbour layer, the same layer's other kinds. `str(q)` is
the text, exactly as written, and the oracles' answer dicts stay keyed by that text: a str key is hashed
once and the dicts are read many times per check.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import NamedTuple

COST = "C"
KINDS = ("W", "b", "z", "a")  # what C is differentiated with respect to
# batch normalization's (model/normalization.py): γ and β of a hidden layer, and u = γ ⊙ ẑ + β, the input
# of its activation. They exist on the hidden layers 1..L-1 of a batch-normalized network only.
NORM_KINDS = ("gamma", "beta", "u")
STEP_KINDS = ("W'", "b'")  # a parameter after one gradient-descent step: W' = W - η·dC/dW, b' = b - η·dC/db
SPECS = ("l", "L")  # a claim's layer: every layer, the output layer (and "L-k", counted from the output)
_TEXT = re.compile(r"dC/d(?P<kind>.*)\[(?P<layer>.*)\]")
_STEP_TEXT = re.compile(r"(?P<kind>[^\[]*')\[(?P<layer>.*)\]")
_FROM_OUTPUT = re.compile(r"L-(?P<k>[1-9]\d*)")


class QuantityError(ValueError):
    """A quantity text that is not C or dC/d{W,b,z,a}[layer]; the message says which part is wrong."""


@dataclass(frozen=True)
class Quantity:
    """C, dC/d{kind}[layer], or a stepped parameter W'[layer], b'[layer]; layer is a number >= 1, or a claim's spec: "l", "L" or "L-k" (k >= 1).

    A number may also be 0 or negative when a spec is placed on a network too shallow for it (dC/dW[L-2]
    on two layers): such a quantity exists on no network (`exists_on`), and says so in a message."""

    kind: str  # "C", "W", "b", "z", "a", or "W'", "b'" (the parameter after a step)
    layer: int | str | None = None  # None for C
    text: str = field(init=False, repr=False, compare=False)  # str(): the name, as written
    from_output: int | None = field(init=False, repr=False, compare=False)  # k of "L-k" (0 for "L")

    def __post_init__(self):
        if self.kind != COST and self.kind not in KINDS + NORM_KINDS + STEP_KINDS:
            raise QuantityError(f"{self.kind!r}: unknown kind; known: {COST}, {', '.join(KINDS + NORM_KINDS + STEP_KINDS)}")
        if (self.kind == COST) != (self.layer is None):
            raise QuantityError(f"{self.kind!r} at {self.layer!r}: C has no layer, every other kind has one")
        text = COST if self.kind == COST else f"{self.kind}[{self.layer}]" if self.kind in STEP_KINDS else \
            f"dC/d{self.kind}[{self.layer}]"
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "from_output", _from_output(self.layer) if isinstance(self.layer, str) else None)

    def __str__(self) -> str:
        return self.text

    @staticmethod
    def parse(text: str) -> "Quantity":
        """The quantity `text` names; QuantityError naming what is wrong otherwise."""
        if not isinstance(text, str):
            raise QuantityError(f"{text!r}: a quantity is a text such as 'dC/dW[l]', not {type(text).__name__}")
        return _parsed(text)

    @staticmethod
    @functools.cache
    def of(kind: str, layer: int | None = None) -> "Quantity":
        """The quantity of `kind` at a concrete `layer` (remembered: one object per name, a cheap key builder)."""
        return Quantity(kind, layer)

    @property
    def is_cost(self) -> bool:
        return self.kind == COST

    @property
    def kind_text(self) -> str:
        """The text without its layer: "dC/da" for dC/da[2], "W'" for W'[1], "C" for C."""
        return COST if self.is_cost else self.kind if self.is_step else f"dC/d{self.kind}"

    @property
    def is_step(self) -> bool:
        """W'[l] or b'[l]: a parameter after one gradient-descent step (the network needs an η)."""
        return self.kind in STEP_KINDS

    @property
    def hidden_only(self) -> bool:
        """dC/dgamma, dC/dbeta, dC/du: a batch-normalized hidden layer's (1..L-1; "l" means those)."""
        return self.kind in NORM_KINDS

    @property
    def parameter(self) -> str:
        """The parameter kind a quantity is of or about: "W" for W'[l] and dC/dW[l], "b" for b'[l] and dC/db[l]."""
        return self.kind.rstrip("'")

    def gradient(self) -> "Quantity":
        """For W'[l] (b'[l]): dC/dW[l] (dC/db[l]), the gradient its step takes; a gradient is its own."""
        return Quantity.of(self.parameter, self.layer) if self.is_step else self

    @property
    def per_layer(self) -> bool:
        """A claim about every layer l: its formula is called once per layer, with l."""
        return self.layer == "l"

    @property
    def concrete(self) -> bool:
        """C, or a quantity at a numbered layer (what an oracle returns); not a claim's spec."""
        return self.is_cost or isinstance(self.layer, int)

    def layers(self, depth: int) -> list[int]:
        """The layers (1..depth) this claim is about on a network of `depth` layers; [0] for C."""
        if self.is_cost:
            return [0]
        if self.layer == "l":
            return list(range(1, depth + (0 if self.hidden_only else 1)))
        if self.from_output is not None:  # "L" or "L-k"
            return [depth - self.from_output]
        return [self.layer]

    def at(self, layer: int) -> "Quantity":
        """The concrete quantity of this kind at `layer` (C stays C)."""
        return self if self.is_cost else Quantity.of(self.kind, layer)

    def on(self, depth: int) -> list["Quantity"]:
        """The concrete quantities this claim is about on a network of `depth` layers."""
        return [self.at(layer) for layer in self.layers(depth)]

    def min_depth(self) -> int:
        """The shallowest network on which the quantity exists (dC/dW[L-1] needs two layers)."""
        hidden = 1 if self.hidden_only else 0  # a hidden layer needs one layer above it
        if isinstance(self.layer, int):
            return self.layer + hidden
        if self.from_output is not None:
            return self.from_output + 1
        return 1 + hidden

    def exists_on(self, depth: int) -> bool:
        """Whether a network of `depth` layers has this concrete quantity."""
        return self.is_cost or 1 <= self._number() <= depth - (1 if self.hidden_only else 0)

    def neighbour(self, shift: int) -> "Quantity":
        """The same kind `shift` layers up (a negative shift: down); C has no layer, so no neighbour."""
        return Quantity.of(self.kind, self._number() + shift)

    def with_kind(self, kind: str) -> "Quantity":
        """The quantity of `kind` at this quantity's layer (dC/dz[2] -> dC/da[2]); C has no layer."""
        self._number()
        return Quantity.of(kind, self.layer)

    def in_stack(self, prepend: int) -> "Quantity":
        """This network's quantity in a padded stack where `prepend` identity layers sit in front of its
        layer 1: real layer l is stack layer l + prepend (C is the stack's C)."""
        return self if self.is_cost else self.neighbour(prepend)

    def out_of_stack(self, prepend: int) -> "Quantity":
        """The inverse of in_stack: the network's own quantity for a stack quantity."""
        return self if self.is_cost else self.neighbour(-prepend)

    def _number(self) -> int:
        if not isinstance(self.layer, int):
            raise QuantityError(f"{self}: " + ("C has no layer" if self.is_cost else
                                               "a claim's layer spec, not a concrete layer (use at or on)"))
        return self.layer


def _from_output(spec: str) -> int | None:
    """k for a claim's layer "L-k" (0 for "L"), None for "l"; QuantityError for any other text."""
    if spec in SPECS:
        return 0 if spec == "L" else None
    match = _FROM_OUTPUT.fullmatch(spec)
    if match is None:
        raise QuantityError(f"unknown layer {spec!r}; write l (every layer), L (the output), "
                            f"L-k (k >= 1, counted from the output) or a number >= 1")
    return int(match["k"])


@functools.cache  # the catalog has a few dozen distinct texts, parsed once each
def _parsed(text: str) -> Quantity:
    if text == COST:
        return Quantity(COST)
    step = _STEP_TEXT.fullmatch(text)
    if step is not None and not text.startswith("dC/d"):
        if step["kind"] not in STEP_KINDS:
            raise QuantityError(f"{text!r}: unknown stepped parameter {step['kind']!r}; known: {', '.join(STEP_KINDS)} "
                                f"(the parameters after one gradient-descent step)")
        match = step
    else:
        match = _TEXT.fullmatch(text)
    if match is None:
        raise QuantityError(f"{text!r}: neither C nor dC/d<kind>[<layer>]; write C, or dC/dW[l], dC/db[L], "
                            f"dC/dz[L-1], dC/da[2] (the derivative of C with respect to W, b, z or a at a layer; "
                            f"dC/dgamma[l], dC/dbeta[l], dC/du[l] at a batch-normalized hidden layer), "
                            f"or W'[l], b'[l] (the parameters after one gradient-descent step)")
    kind, layer = match["kind"], match["layer"]
    if kind not in KINDS + NORM_KINDS + STEP_KINDS:
        raise QuantityError(f"{text!r}: unknown kind {kind!r} after dC/d; known: {', '.join(KINDS + NORM_KINDS)}")
    number = layer.isdigit() and layer[0] != "0"
    try:
        return Quantity(kind, int(layer) if number else layer)
    except QuantityError as error:
        raise QuantityError(f"{text!r}: {error}") from None


def quantity_names(depth: int, steps: bool = False) -> list[str]:
    """The name of every quantity an oracle returns for a network of `depth` layers: C, then W, b, z, a
    of each layer from the input up; with `steps` (a network with an η) then W', b' of each layer."""
    names = [COST] + [str(Quantity.of(kind, l)) for l in range(1, depth + 1) for kind in KINDS]
    return names + (step_names(depth) if steps else [])


def norm_names(depth: int) -> list[str]:
    """dC/dgamma[l], dC/dbeta[l], dC/du[l] for the hidden layers l = 1..depth-1: what an oracle adds for a
    batch-normalized network."""
    return [str(Quantity.of(kind, l)) for l in range(1, depth) for kind in NORM_KINDS]


def step_names(depth: int) -> list[str]:
    """W'[l], b'[l] for l = 1..depth: the stepped parameters an oracle returns for a network with an η."""
    return [str(Quantity.of(kind, l)) for l in range(1, depth + 1) for kind in STEP_KINDS]


class LayerNames(NamedTuple):
    """The names of the four quantities at one concrete layer."""
    W: str
    b: str
    z: str
    a: str


@functools.cache  # built for every layer of every network judged: remembered, as cheap as an f-string
def layer_names(layer: int) -> LayerNames:
    """The names of dC/dW, dC/db, dC/dz, dC/da at a concrete `layer`, for building an answer dict's keys."""
    return LayerNames(*(str(Quantity.of(kind, layer)) for kind in KINDS))
