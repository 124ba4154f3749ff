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

import contextlib
import inspect
import math
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Callable

from backprop_audit.model import operations
from backprop_audit.model.network import DTYPES
from backprop_audit.model.operations import TARGET_KINDS
from backprop_audit.model.convention import CONVENTIONS
from backprop_audit.model.quantity import Quantity, QuantityError
from backprop_audit.verdicts.vocabulary import DIAGNOSIS_KINDS

EXPECTATIONS = ("holds", "erratum")


class RecordError(ValueError):
    """A formula record that is not well formed; the message names the record and the field."""


# Who checks a record when it is made: check_record (which raises) unless a caller chose otherwise for a
# while. The claims loader (commands/claims.py) does, so that one malformed record in a CLAIMS list literal
# is noted with its line instead of raising and losing the records around it. A ContextVar: the choice
# holds only inside `records_checked_by`, in the context that made it.
_RECORD_CHECK: ContextVar[Callable | None] = ContextVar("formula_record_check", default=None)


@contextlib.contextmanager
def records_checked_by(check: Callable):
    """Inside, each new Formula is passed to check(record) instead of check_record (which raises)."""
    token = _RECORD_CHECK.set(check)
    try:
        yield
    finally:
        _RECORD_CHECK.reset(token)


@dataclass(frozen=True)
class Source:
    document: str  # the file name of the source document
    where: str  # section heading or equation number
    quote: str  # the sentence, quoted


@dataclass(frozen=True)
class Expected:
    """The diagnosis an erratum must get: its kind and its fix (as the report prints it, "x 1/N";
    "" for a kind that names no edit, such as "raised" or "none"). The gate asserts the audit gives it."""

    kind: str
    fix: str = ""

    def as_dict(self) -> dict:
        return {"kind": self.kind, "fix": self.fix}


# The default target kinds: each loss is drawn with those of them it suits (searching/strategies.py). Kinds a
# setting names itself are drawn even where they suit no loss of it: the claim asked for them.
DEFAULT_TARGETS = ("real", "onehot", "prob", "binary")


NAME_FIELDS = ("hidden", "output", "loss", "targets")  # a Setting's fields of names (the others are ranges or flags)


@dataclass(frozen=True)
class Setting:
    """The networks a formula claims to hold on; the search draws only from these."""

    depth: tuple[int, int] = (1, 3)
    width: tuple[int, int] = (1, 5)
    batch: tuple[int, int] = (1, 4)
    # The default draws, named explicitly and in this order (not "every row of the operation table"): the
    # strategies decode a network's bytes by position in these tuples, so a new table row (softplus) or a
    # new order would change every drawn network and the catalog's report. A setting asks for a new row.
    hidden: tuple[str, ...] = ("sigmoid", "tanh", "relu", "identity")
    output: tuple[str, ...] = ("sigmoid", "softmax", "tanh", "identity")
    loss: tuple[str, ...] = ("sum_sq", "half_sum_sq", "mean_sum_sq", "mean_half_sum_sq", "softmax_ce", "sigmoid_bce")
    targets: tuple[str, ...] = DEFAULT_TARGETS  # "labels" (TARGET_KINDS) on request
    square: bool = False  # every layer as wide as its input
    # The input's and the output layer's widths when they differ from the hidden layers' `width` (None:
    # `width` bounds them too, as before). A single-output claim (a scalar db[L]) with hidden layers wider
    # than 1 is output_width=(1, 1). None keeps the default draw: the strategies add no byte for it.
    input_width: tuple[int, int] | None = None
    output_width: tuple[int, int] | None = None
    # (low, high) of λ, C = loss + (λ/2) Σ_l ‖W[l]‖² (model/regularizers.py), given to formulas as v.l2;
    # None: no term. (low, high) of the learning rate η of one gradient-descent step, given as v.eta;
    # needed by the step quantities W'[l], b'[l]. None adds no byte to the draw (the default is unchanged).
    l2: tuple[float, float] | None = None
    eta: tuple[float, float] | None = None
    # batch normalization after every hidden dense layer (model/normalization.py: u = γ ⊙ ẑ + β, a = g(u);
    # γ, β drawn per network, v.gamma, v.beta, v.zhat, v.mu, v.var, v.u, v.eps), and (low, high) of p, the
    # probability of DROPPING a unit (torch's convention) of inverted dropout after every hidden activation
    # (a fixed mask per network, v.mask 0/1, v.p). Off/None add no byte to the draw (the default is unchanged).
    batchnorm: bool = False
    dropout: tuple[float, float] | None = None

    def __post_init__(self):
        # one name is a tuple of that name: Setting(loss="mse") is what users write for a single loss (a str
        # taken as a sequence would be one name per letter); a list is the tuple of its names
        for name in NAME_FIELDS:
            value = getattr(self, name)
            if isinstance(value, (str, list)):
                object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))

    def as_dict(self) -> dict:
        """The setting as report.json writes it: its keyword arguments, tuples as lists."""
        return {name: list(value) if isinstance(value, tuple) else value for name, value in self.__dict__.items()}

    def describe(self) -> str:
        return describe_setting(self.as_dict())

    def restricted(self, **changes) -> "Setting":
        return Setting(**{**self.__dict__, **changes})


def describe_setting(setting: dict) -> str:
    """A setting in words, from its dict (Setting.as_dict, as report.json holds it): the renderers use it."""
    widths = f"widths {_span(setting['width'])}" + "".join(
        f", {name} width {_span(setting[key])}" for name, key in (("input", "input_width"), ("output", "output_width"))
        if setting.get(key) is not None)
    parts = [f"depth {_span(setting['depth'])}", widths, f"batch {_span(setting['batch'])}"] + [
        f"{key} {_span(setting[key])}" for key in ("l2", "eta", "dropout") if setting.get(key) is not None] + [
        "batch normalization" for _ in [0] if setting.get("batchnorm")] + [
        f"hidden {'/'.join(setting['hidden'])}", f"output {'/'.join(setting['output'])}",
        f"loss {'/'.join(setting['loss'])}", f"targets {'/'.join(setting['targets'])}"]
    if setting["square"]:
        parts.append("square layers")
    return "; ".join(parts)


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
    expected_diagnosis: Expected | None = None  # for an erratum: the diagnosis the audit must give
    corrects: str | None = None  # for a corrected form: the id of the erratum it corrects
    note: str = ""  # where the transcription had to choose a reading, and why
    # For a formula valid only under a precondition (say rows of y summing to 1): a setting that breaks
    # it. The audit searches there too and the formula must fail, so the precondition is shown on both sides.
    violates: Setting | None = None

    def __post_init__(self):
        (_RECORD_CHECK.get() or check_record)(self)

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
    """Raise RecordError naming the record and every field that is wrong (one message: a claims file is fixed in
    one pass, not one field a run); what depends on a field (the quantity's needs of the setting, compute's
    arguments) is checked once the fields themselves are right."""
    name = f"formula {f.id!r}" if isinstance(f.id, str) and f.id else "a formula without an id"
    problems = _field_problems(f)
    if f.expected in EXPECTATIONS:
        try:
            _check_expected_diagnosis(name, f)
        except RecordError as error:
            problems.append(str(error).removeprefix(f"{name}: "))
    if isinstance(f.setting, Setting):
        problems += _setting_problems("setting", f.setting)
    if problems:
        raise RecordError(f"{name}: " + _listed(problems))
    s = f.setting
    if not any(operations.fits(loss, out) for loss in s.loss for out in s.output):
        needs = "; ".join(f"{loss} needs output {operations.loss(loss).output}" for loss in s.loss
                          if operations.loss(loss).output is not None)
        raise RecordError(f"{name}: no loss in setting.loss {list(s.loss)} can sit on any activation in "
                          f"setting.output {list(s.output)} ({needs})")
    if f.violates is not None and not isinstance(f.violates, Setting):
        raise RecordError(f"{name}: violates must be a Setting(...) that breaks the precondition")
    if f.violates is not None:
        violated = _setting_problems("violates", f.violates)
        if violated:
            raise RecordError(f"{name}: " + _listed(violated))
    if f.target.is_step and s.eta is None:
        raise RecordError(f"{name}: quantity {f.quantity} is a parameter after a gradient-descent step: "
                          f"the setting needs eta=(low, high), the learning rates to draw")
    if f.target.hidden_only and not s.batchnorm:
        raise RecordError(f"{name}: quantity {f.quantity} is batch normalization's: the setting needs batchnorm=True")
    if f.min_depth() > s.depth[1]:
        raise RecordError(f"{name}: quantity {f.quantity} needs depth >= {f.min_depth()}, setting allows {s.depth}")
    _check_arguments(name, f)  # last: what the quantity and setting say comes first


def _check_arguments(name: str, f: Formula) -> None:
    """compute takes the arguments it is called with: (view, l) for a per-layer quantity, else (view). Found only
    when called, a wrong count was an error verdict raised at a line of the engine, not of the claim."""
    try:
        signature = inspect.signature(f.compute)
    except (TypeError, ValueError):  # a callable Python cannot describe (a builtin): found when called, as before
        return
    call, count = ("compute(view, l)", 2) if f.per_layer else ("compute(view)", 1)
    try:
        signature.bind(*range(count))
    except TypeError:
        raise RecordError(f"{name}: quantity {f.quantity} is checked by calling {call}, and compute takes "
                          f"{signature}") from None


def _listed(problems: list[str]) -> str:
    """One problem as it is; several numbered, "(1) ...; (2) ...": a message has "; " of its own ("...; known: ...")."""
    return problems[0] if len(problems) == 1 else "; ".join(f"({i}) {p}" for i, p in enumerate(problems, start=1))


def _field_problems(f: Formula) -> list[str]:
    """What is wrong with the record's own fields (not its setting's), each said once."""
    problems = []
    if not isinstance(f.id, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", f.id):
        problems.append("id must be letters, digits, '.', '_' or '-'")
    if not isinstance(f.source, Source):
        problems.append("source must be a Source(document, where, quote)")
    if f.convention not in CONVENTIONS:
        problems.append(f"unknown convention {f.convention!r}; known: {', '.join(CONVENTIONS)}")
    try:
        Quantity.parse(f.quantity)
    except QuantityError as error:
        problems.append(f"unknown quantity {error}")
    if f.expected not in EXPECTATIONS:
        problems.append(f"expected must be one of {EXPECTATIONS}, got {f.expected!r}")
    if not callable(f.compute):
        problems.append("compute must be a function of the network view")
    if not isinstance(f.setting, Setting):
        problems.append("setting must be a Setting(...)")
    return problems


def _setting_problems(where: str, s: Setting) -> list[str]:
    """What is wrong with each field of a Setting: the type and the values the search can draw from (`where`
    names it: "setting" or "violates")."""
    problems = []
    for field_name, known in (("hidden", operations.HIDDEN_ACTIVATIONS), ("output", operations.OUTPUT_ACTIVATIONS),
                              ("loss", operations.LOSSES), ("targets", TARGET_KINDS)):
        values = getattr(s, field_name)
        if not isinstance(values, tuple):  # Setting made one name, or a list, a tuple already
            problems.append(f"{where}.{field_name} must be a name or a tuple of names, like {known[0]!r} or "
                            f"({known[0]!r}, {known[1]!r}), got {values!r}")
            continue
        unknown = [v for v in values if v not in known]
        if unknown or not values:
            problems.append(f"{where}.{field_name} has unknown or no values {unknown}; known: {', '.join(known)}")
    for field_name in ("depth", "width", "batch", "input_width", "output_width"):
        pair = getattr(s, field_name)
        if pair is None and field_name in ("input_width", "output_width"):
            continue
        whole = isinstance(pair, (tuple, list)) and len(pair) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in pair)
        if not whole or not (1 <= pair[0] <= pair[1]):
            optional = " (or None: as `width`)" if field_name.endswith("_width") else ""
            problems.append(f"{where}.{field_name} must be (low, high), two whole numbers with "
                            f"1 <= low <= high{optional}, got {pair!r}")
    if not isinstance(s.square, bool):
        problems.append(f"{where}.square must be True or False, got {s.square!r}")
    for field_name, least in (("l2", 0.0), ("eta", None)):
        pair = getattr(s, field_name)
        if pair is None:
            continue
        numbers = isinstance(pair, (tuple, list)) and len(pair) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in pair)
        bound = "0 <= low" if least is not None else "0 < low"
        if not numbers or not (pair[0] >= 0 if least is not None else pair[0] > 0) or pair[0] > pair[1]:
            problems.append(f"{where}.{field_name} must be (low, high), two finite numbers with {bound} <= high "
                            f"(or None: {'no L2 term' if field_name == 'l2' else 'no step'}), got {pair!r}")
    if not isinstance(s.batchnorm, bool):
        problems.append(f"{where}.batchnorm must be True or False, got {s.batchnorm!r}")
    if s.dropout is not None:
        pair = s.dropout
        numbers = isinstance(pair, (tuple, list)) and len(pair) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in pair)
        if not numbers or not (0 <= pair[0] <= pair[1] < 1):
            problems.append(f"{where}.dropout must be (low, high), p the probability of dropping a unit with "
                            f"0 <= low <= high < 1 (or None: no dropout), got {pair!r}")
    if s.square and (s.input_width is not None or s.output_width is not None):
        problems.append(f"{where}: square layers are all as wide as the input; input_width and "
                        f"output_width cannot be set with square=True")
    return problems


def _check_expected_diagnosis(name: str, f: Formula) -> None:
    expected = f.expected_diagnosis
    if expected is None:
        return
    if not isinstance(expected, Expected):
        raise RecordError(f"{name}: expected_diagnosis must be an Expected(kind=..., fix=...)")
    if f.expected != "erratum":
        raise RecordError(f"{name}: expected_diagnosis is only for a record with expected=\"erratum\"")
    if expected.kind not in DIAGNOSIS_KINDS:
        raise RecordError(f"{name}: expected_diagnosis has unknown kind {expected.kind!r}; "
                          f"known: {', '.join(DIAGNOSIS_KINDS)}")
    if not isinstance(expected.fix, str):
        raise RecordError(f"{name}: expected_diagnosis.fix must be a string (\"\" when the kind names no fix)")


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


def corrections_among(selected: list[Formula]) -> dict[str, str]:
    """erratum id -> id of its corrected record, where both are among `selected` (a run's formulas: a
    selection, `--only`, of a record set whose links link_corrections has checked). A corrected record
    run without its erratum, or an erratum without its correction, is linked to nothing."""
    ids = {f.id for f in selected}
    return {f.corrects: f.id for f in selected if f.corrects in ids}


__all__ = ["Formula", "Source", "Setting", "Expected", "RecordError", "TARGET_KINDS", "DTYPES",
           "link_corrections", "corrections_among", "records_checked_by"]
