"""The quantities a formula can claim to equal, and the names the oracles' answers are keyed by.

A quantity is the cost C itself, or the derivative of C with respect to W, b, z or a at one layer:

    C            the loss value
    dC/dW[2]     a concrete layer: what an oracle returns, what a message or report.json names
    dC/dz[l]     a claim about every layer l = 1..L (compute(view, l) is called once per layer)
    dC/da[L]     a claim about the output layer
    dC/db[L-1]   a claim about a layer counted from the output
    W'[l], b'[L] the parameters after one gradient-descent step, W - η·dC/dW (the network's η, Setting.eta):
                 what an update listing returns, compared as itself (never read back as (W - W')/η)

or a local Jacobian of one layer (`JACOBIANS`, no C in it), the layer numbers as the template writes them:

    da[l]/dz[l]      the activation's Jacobian, diag(g'(z[l])) per sample for an elementwise g
    dz[l]/da[l-1]    W[l] per sample (a[0] is the input x)
    da[l+1]/da[l]    diag(g'(z[l+1])) W[l+1] per sample (l = 1..L-1: "L-1" is the highest spec)
    dz[l]/dW[l]      ∂z_i/∂W_ik = a[l-1]_k per sample, in the reduced layout below
    da[l]/dW[l]      ∂a_i/∂W_ik = g'(z_i)·a[l-1]_k per sample, the same reduced layout

Layout of a Jacobian (both conventions alike: a Jacobian is not a gradient, which takes its parameter's
shape): per sample (out, in), entry [i, j] = ∂out_i/∂in_j, the rows the numerator's units; with a batch
(N, out, in), the per-sample Jacobians stacked. The cross-sample blocks (∂out of sample n / ∂in of sample
m ≠ n) are zero and not part of the quantity. With respect to W the full per-sample Jacobian is
(out, out, in) and zero unless the output unit is the row of W it differentiates by: ∂z_i/∂W_jk = δ_ij a_k.
The quantity keeps the entries that are not structurally zero, ∂z_i/∂W_ik, laid out as W is in the
formula's convention (canonical (out, in); the row convention's (in, out)), with a batch (N, *W.shape):
the form the documents write (000's dz[1]/dw[1] = a[1], 002's ∂z/∂w = X∇f, an outer product xᵀ∇f that
has W's (in, out) shape in the row convention). For a coupled activation (softmax) da[l]/dW[l] has
cross terms ∂a_i/∂W_jk, j ≠ i, that this reduced layout leaves out: a claim about them is not expressible.

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
# kind: (numerator, its layer's offset from the quantity's layer, denominator, its offset)
JACOBIANS = {
    "da/dz": ("a", 0, "z", 0),
    "dz/da": ("z", 0, "a", -1),
    "da/da": ("a", 1, "a", 0),
    "dz/dW": ("z", 0, "W", 0),
    "da/dW": ("a", 0, "W", 0),
}
JACOBIAN_KINDS = tuple(JACOBIANS)
_JACOBIAN_TEXT = re.compile(r"d(?P<num>[^\[/]*)\[(?P<top>[^\]]*)\]/d(?P<den>[^\[/]*)\[(?P<bottom>[^\]]*)\]")
_LAYER_TERM = re.compile(r"(?P<base>l|L|[1-9]\d*|0)(?:(?P<sign>[+-])(?P<k>[1-9]\d*))?")


class QuantityError(ValueError):
    """A quantity text that is not C, dC/d{W,b,z,a}[layer], a step or a Jacobian; the message says which part is wrong."""


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
        if self.kind != COST and self.kind not in KINDS + NORM_KINDS + STEP_KINDS + JACOBIAN_KINDS:
            raise QuantityError(f"{self.kind!r}: unknown kind; known: {COST}, "
                                f"{', '.join(KINDS + NORM_KINDS + STEP_KINDS + JACOBIAN_KINDS)}")
        if (self.kind == COST) != (self.layer is None):
            raise QuantityError(f"{self.kind!r} at {self.layer!r}: C has no layer, every other kind has one")
        if self.kind in JACOBIAN_KINDS:
            text = _jacobian_text(self.kind, self.layer)
        else:
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
        """The text without its layer: "dC/da" for dC/da[2], "W'" for W'[1], "da/dz" for da[2]/dz[2], "C" for C."""
        return COST if self.is_cost else self.kind if self.is_step or self.is_jacobian else f"dC/d{self.kind}"

    @property
    def is_jacobian(self) -> bool:
        """A local Jacobian (JACOBIANS): per sample (out, in), with a batch (N, out, in); see the module docstring."""
        return self.kind in JACOBIAN_KINDS

    @property
    def numerator(self) -> tuple[str, int]:
        """A Jacobian's numerator and its offset from the quantity's layer: ("a", 1) for da[l+1]/da[l]."""
        num, top, _, _ = JACOBIANS[self.kind]
        return num, top

    @property
    def denominator(self) -> tuple[str, int]:
        """A Jacobian's denominator and its offset from the quantity's layer: ("a", -1) for dz[l]/da[l-1]."""
        _, _, den, bottom = JACOBIANS[self.kind]
        return den, bottom

    @property
    def _above(self) -> int:
        """How many layers above its own a quantity reaches: 1 for da[l+1]/da[l], and for a batch-normalized
        hidden layer's dC/dgamma, dC/dbeta, dC/du (a hidden layer has one above it); else 0."""
        if self.hidden_only:
            return 1
        return max(JACOBIANS[self.kind][1], 0) if self.is_jacobian else 0

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
            return list(range(1, depth + 1 - self._above))
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
            return self.layer + self._above
        if self.from_output is not None:
            return self.from_output + 1
        return 1 + self._above

    def exists_on(self, depth: int) -> bool:
        """Whether a network of `depth` layers has this concrete quantity."""
        return self.is_cost or 1 <= self._number() <= depth - self._above

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


def _shifted(layer: int | str, offset: int) -> str:
    """The text of `layer` + offset: 3 for (2, 1), "l-1" for ("l", -1), "L" for ("L-1", 1), "L-2" for ("L-1", -1)."""
    if offset == 0:
        return str(layer)
    if isinstance(layer, int):
        return str(layer + offset)
    if layer == "l":
        return f"l{offset:+d}"
    k = _from_output(layer) - offset  # "L-k" + offset = "L-(k - offset)"
    return "L" if k == 0 else f"L-{k}" if k > 0 else f"L+{-k}"


def _jacobian_text(kind: str, layer: int | str) -> str:
    """The text of a Jacobian at a layer: da[l+1]/da[l], dz[2]/da[1], da[L]/da[L-1]."""
    num, top, den, bottom = JACOBIANS[kind]
    if isinstance(layer, str):
        _from_output(layer)  # a QuantityError for an unknown spec
    return f"d{num}[{_shifted(layer, top)}]/d{den}[{_shifted(layer, bottom)}]"


def _jacobian_forms() -> str:
    return ", ".join(_jacobian_text(kind, "l") for kind in JACOBIAN_KINDS)


def _parsed_jacobian(text: str, match) -> Quantity:
    """The Jacobian `text` names (matched by _JACOBIAN_TEXT); QuantityError naming the known forms otherwise."""
    kind = f"d{match['num']}/d{match['den']}"
    if kind not in JACOBIANS:
        raise QuantityError(f"{text!r}: unknown Jacobian d{match['num']}/d{match['den']}; known: {_jacobian_forms()} "
                            f"(l, L, L-k or a number for l)")
    term = _LAYER_TERM.fullmatch(match["bottom"])
    if term is None:
        raise QuantityError(f"{text!r}: unknown layer {match['bottom']!r}; write l, L, L-k or a number, as in "
                            f"{_jacobian_forms()}")
    base, k = term["base"], int(term["k"] or 0) * (-1 if term["sign"] == "-" else 1)
    k -= JACOBIANS[kind][3]  # the quantity's own layer, from the denominator's
    if base == "l":
        layer = "l" if k == 0 else None
    elif base == "L":
        layer = "L" if k == 0 else f"L-{-k}" if k < 0 else None
    else:
        layer = int(base) + k if int(base) + k >= 1 else None
    quantity = None if layer is None else Quantity(kind, layer)
    if quantity is None or str(quantity) != text or quantity.min_depth() < 1 or \
            (quantity.from_output is not None and quantity.from_output < quantity._above):
        raise QuantityError(f"{text!r}: not a layer of {_jacobian_text(kind, 'l')}; its layers are written as in "
                            f"{_jacobian_forms()} (l, L, L-k >= the output's layer, or numbers >= 1)")
    return quantity


@functools.cache  # the catalog has a few dozen distinct texts, parsed once each
def _parsed(text: str) -> Quantity:
    if text == COST:
        return Quantity(COST)
    jacobian = _JACOBIAN_TEXT.fullmatch(text)
    if jacobian is not None and not text.startswith("dC/d"):
        return _parsed_jacobian(text, jacobian)
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
                            f"W'[l], b'[l] (the parameters after one gradient-descent step), "
                            f"or a local Jacobian: {_jacobian_forms()}")
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


def jacobian_names(depth: int) -> list[str]:
    """Every local Jacobian of a network of `depth` layers (what the oracles' `jacobians` return), layer by layer."""
    return [str(Quantity.of(kind, l)) for l in range(1, depth + 1) for kind in JACOBIAN_KINDS
            if Quantity.of(kind, l).exists_on(depth)]


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
