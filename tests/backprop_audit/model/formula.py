"""The formula record: one claim of a document, and the setting it claims to hold on.

The same record is the catalog's format (manual/) and the format users write their own claims in
(`backprop-audit check FILE`). A record reads like the sentence it transcribes:

    Formula(
        id="003-output-error",
        title="Output error, sigmoid and half squared error",
        source=Source("003_e380f16b86dd662d.txt", "Backpropagation derivation, output layer error",
                      "this leads us to the final expression for the error on the last layer."),
        written=r"\\delta^L = (a^L - y) \\odot a^L \\odot (1 - a^L)",
        convention="column",
        quantity="dC/dz[L]",
        setting=Setting(output=("sigmoid",), loss=("half_sum_sq",), batch=(1, 1)),
        compute=lambda n: (n.a[n.L] - n.y) * n.a[n.L] * (1 - n.a[n.L]),
        expected="holds",
    )

`quantity` names what the formula claims to equal: "C", or dC/dW, dC/db, dC/dz, dC/da at a layer.
The layer is a number (1..L), "L" or "L-k" (counted from the output), or "l" for every layer; with "l",
`compute(view, l)` is called once per layer l = 1..L, otherwise `compute(view)`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from backprop_audit.model.network import HIDDEN_ACTIVATIONS, LOSS_NEEDS_OUTPUT, LOSSES, OUTPUT_ACTIVATIONS, DTYPES
from backprop_audit.model.convention import CONVENTIONS
from backprop_audit.model.quantity import Quantity, QuantityError

TARGET_KINDS = ("real", "onehot", "prob", "binary")
EXPECTATIONS = ("holds", "erratum")


class RecordError(ValueError):
    """A formula record that is not well formed; the message names the record and the field."""


@dataclass(frozen=True)
class Source:
    document: str  # the file name of the source document
    where: str  # section heading or equation number
    quote: str  # the sentence, quoted


@dataclass(frozen=True)
class Setting:
    """The networks a formula claims to hold on; the search draws only from these."""

    depth: tuple[int, int] = (1, 3)
    width: tuple[int, int] = (1, 5)
    batch: tuple[int, int] = (1, 4)
    hidden: tuple[str, ...] = HIDDEN_ACTIVATIONS
    output: tuple[str, ...] = OUTPUT_ACTIVATIONS
    loss: tuple[str, ...] = tuple(LOSSES)
    targets: tuple[str, ...] = TARGET_KINDS
    square: bool = False  # every layer as wide as its input

    def describe(self) -> str:
        parts = [f"depth {_span(self.depth)}", f"widths {_span(self.width)}", f"batch {_span(self.batch)}",
                 f"hidden {'/'.join(self.hidden)}", f"output {'/'.join(self.output)}",
                 f"loss {'/'.join(self.loss)}", f"targets {'/'.join(self.targets)}"]
        if self.square:
            parts.append("square layers")
        return "; ".join(parts)

    def restricted(self, **changes) -> "Setting":
        return Setting(**{**self.__dict__, **changes})


def _span(pair):
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}-{pair[1]}"


@dataclass(frozen=True)
class Formula:
    id: str
    title: str
    source: Source
    written: str  # the formula as written, LaTeX
    convention: str  # "column" or "row": see backprop_audit.model.convention
    quantity: str
    setting: Setting
    compute: Callable = field(repr=False)
    expected: str = "holds"  # "holds" or "erratum"
    corrects: str | None = None  # for a corrected form: the id of the erratum it corrects
    note: str = ""  # where the transcription had to choose a reading, and why
    # For a formula valid only under a precondition (say rows of y summing to 1): a setting that breaks
    # it. The audit searches there too and the formula must fail, so the precondition is shown on both sides.
    violates: Setting | None = None

    def __post_init__(self):
        check_record(self)

    @property
    def target(self) -> Quantity:
        """The quantity claimed, parsed (the record keeps the text as written)."""
        return Quantity.parse(self.quantity)

    @property
    def per_layer(self) -> bool:
        return self.target.per_layer

    def min_depth(self) -> int:
        """The shallowest network on which the quantity exists (dC/dW[L-1] needs two layers)."""
        return self.target.min_depth()

    # layers/quantity_at: batching/sweep.py's way of asking target.layers(depth) / target.at(layer)
    def layers(self, depth: int) -> list[int]:
        return self.target.layers(depth)

    def quantity_at(self, layer: int) -> str:
        return str(self.target.at(layer))


def check_record(f: Formula) -> None:
    """Raise RecordError naming the record and the field that is wrong."""
    name = f"formula {f.id!r}" if isinstance(f.id, str) and f.id else "a formula without an id"
    if not isinstance(f.id, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", f.id):
        raise RecordError(f"{name}: id must be letters, digits, '.', '_' or '-'")
    if not isinstance(f.source, Source):
        raise RecordError(f"{name}: source must be a Source(document, where, quote)")
    if f.convention not in CONVENTIONS:
        raise RecordError(f"{name}: unknown convention {f.convention!r}; known: {', '.join(CONVENTIONS)}")
    try:
        Quantity.parse(f.quantity)
    except QuantityError as error:
        raise RecordError(f"{name}: unknown quantity {error}") from None
    if f.expected not in EXPECTATIONS:
        raise RecordError(f"{name}: expected must be one of {EXPECTATIONS}, got {f.expected!r}")
    if not callable(f.compute):
        raise RecordError(f"{name}: compute must be a function of the network view")
    s = f.setting
    if not isinstance(s, Setting):
        raise RecordError(f"{name}: setting must be a Setting(...)")
    for field_name, known in (("hidden", HIDDEN_ACTIVATIONS), ("output", OUTPUT_ACTIVATIONS),
                              ("loss", tuple(LOSSES)), ("targets", TARGET_KINDS)):
        values = getattr(s, field_name)
        unknown = [v for v in values if v not in known]
        if unknown or not values:
            raise RecordError(f"{name}: setting.{field_name} has unknown or no values {unknown}; "
                              f"known: {', '.join(known)}")
    for field_name in ("depth", "width", "batch"):
        lo, hi = getattr(s, field_name)
        if not (1 <= lo <= hi):
            raise RecordError(f"{name}: setting.{field_name} must be (low, high) with 1 <= low <= high")
    if not any(LOSS_NEEDS_OUTPUT.get(loss, out) == out for loss in s.loss for out in s.output):
        raise RecordError(f"{name}: no loss in setting.loss can sit on any activation in setting.output")
    if f.violates is not None and not isinstance(f.violates, Setting):
        raise RecordError(f"{name}: violates must be a Setting(...) that breaks the precondition")
    if f.min_depth() > s.depth[1]:
        raise RecordError(f"{name}: quantity {f.quantity} needs depth >= {f.min_depth()}, setting allows {s.depth}")


def link_corrections(formulas: list[Formula]) -> dict[str, str]:
    """erratum id -> id of the record that corrects it; raises RecordError on a dangling link."""
    ids = {f.id for f in formulas}
    corrected_by = {}
    for f in formulas:
        if f.corrects:
            if f.corrects not in ids:
                raise RecordError(f"formula {f.id!r}: corrects unknown id {f.corrects!r}")
            corrected_by[f.corrects] = f.id
    return corrected_by


__all__ = ["Formula", "Source", "Setting", "RecordError", "TARGET_KINDS", "DTYPES", "link_corrections"]
