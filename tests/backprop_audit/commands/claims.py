"""Loading users' claim files: the input of `backprop-audit check FILE [FILE...]`.

A claims file is a Python file that defines a list CLAIMS of backprop_audit.Formula records, the same
record the catalog (manual/) uses. It may import numpy, backprop_audit and any module beside it (the
file's folder is put on sys.path, so a claim can wrap the user's own code).

Loading never stops at the first problem. Every problem becomes a `Problem` naming the file, the
line, the claim when there is one, and what was wrong; the claims that loaded still run:
- a missing file, a syntax error, or an exception while the file runs (an ImportError, say) loses
  that file only;
- a record that is not well formed (an unknown quantity, activation or loss, a wrong-typed field such
  as Setting(depth=3): Formula raises RecordError) loses that claim only: while a file loads, each
  record's check is noted instead of raised (formula.records_checked_by), so the list literal
  finishes, and the bad records are taken out afterwards with the line they were written on;
- an entry of a `CLAIMS = [...]` literal that raises while it is built (an unknown Formula or Setting
  field is a TypeError) loses that claim only: each entry is built on its own, and the problem names
  the entry's line, even when a helper in the file builds the record;
- an item of CLAIMS that is not a Formula, an id met before (in this file or an earlier one), or a
  `corrects` naming no loaded claim loses that claim only.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.machinery
import importlib.util
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from backprop_audit.judging.untrusted import is_the_claims_own
from backprop_audit.model.formula import Formula, RecordError, check_record, records_checked_by
from backprop_audit.reports.format import problem_text


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the input; `str()` is the message the command prints."""

    file: str
    message: str
    line: int | None = None
    claim: str | None = None  # the claim's id (or its position in CLAIMS) when the problem is one claim's

    def __str__(self) -> str:
        return problem_text(self.as_dict())  # the same text the reports show

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "claim": self.claim, "message": self.message}


@dataclass
class Loaded:
    """The claims that loaded (in file order), where each came from, and the problems met."""

    claims: list = field(default_factory=list)
    origin: dict = field(default_factory=dict)  # claim id -> (file, line)
    problems: list = field(default_factory=list)


def _line_in(path: Path, tb=None) -> int | None:
    """A line of `path` on the stack: for a traceback `tb` the innermost (where the file failed); on
    the current stack the outermost (the CLAIMS entry, even when a helper in the file builds the record)."""
    frames = traceback.extract_tb(tb) if tb is not None else traceback.extract_stack()
    lines = [f.lineno for f in frames if Path(f.filename).resolve() == path]
    return (lines[-1] if tb is not None else lines[0]) if lines else None


@dataclass(frozen=True)
class _Made:
    """A record made while its file ran: the line of the file it was made on, and what is wrong with it."""

    record: Formula
    line: int | None
    error: str | None  # the RecordError's message, None when the record is well formed


class _RecordsMade:
    """The records a file makes while it runs, each checked without raising (formula.records_checked_by).

    Why: CLAIMS is usually one list literal, and a raise in its third record would lose all the others.
    """

    def __init__(self, path: Path):
        self.path = path
        self.made: list[_Made] = []

    def __call__(self, record: Formula) -> None:
        try:
            check_record(record)
            error = None
        except RecordError as problem:
            # The Problem names the claim already: drop the record's own "formula 'id': " prefix.
            error = str(problem).removeprefix(f"formula {record.id!r}: ")
        self.made.append(_Made(record, _line_in(self.path), error))

    def of(self, record) -> _Made | None:
        """How `record` was made in this file; None for a record made elsewhere (imported, say)."""
        return next((m for m in self.made if m.record is record), None)


@dataclass(frozen=True)
class _Unbuilt:
    """An entry of the CLAIMS literal that raised while it was built: it stands in CLAIMS for the claim."""

    claim: str | None  # the id written in the entry (id="..." or a first argument "..."), when there is one
    line: int
    message: str


ENTRY_BUILDER = "__backprop_audit_build_claim__"  # the name the rewritten CLAIMS literal calls


def _build_entry(build, claim: str | None, line: int):
    """build() (one entry of CLAIMS), or an _Unbuilt naming what it raised."""
    try:
        return build()
    except BaseException as error:  # sys.exit() too: the claim's own problem (judging/untrusted.py)
        if not is_the_claims_own(error):
            raise
        return _Unbuilt(claim, line, f"raised {type(error).__name__} while it was built: {error}")


def _written_id(entry: ast.expr) -> str | None:
    """The id an entry such as Formula(id="x", ...) or claim("x", ...) writes, read from the source."""
    if not isinstance(entry, ast.Call):
        return None
    written = [k.value for k in entry.keywords if k.arg == "id"] + entry.args[:1]
    first = written[0] if written else None
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def _entries_built_one_by_one(tree: ast.Module) -> ast.Module:
    """Rewrite a top-level `CLAIMS = [e1, e2, ...]` so that each entry is built on its own:
    [__build__(lambda: e1, "id1", line1), ...]. Why: a TypeError in the third entry (Formula(qantity=...))
    would otherwise stop the file, and lose every claim, with a line inside whatever helper raised.
    A literal with a starred entry (*more) is left as written."""
    for statement in tree.body:
        if not (isinstance(statement, ast.Assign) and isinstance(statement.value, (ast.List, ast.Tuple))
                and [getattr(t, "id", None) for t in statement.targets] == ["CLAIMS"]):
            continue
        entries = statement.value.elts
        if any(isinstance(entry, ast.Starred) for entry in entries):
            continue
        statement.value.elts = [ast.copy_location(_built_on_its_own(entry), entry) for entry in entries]
    return ast.fix_missing_locations(tree)


def _built_on_its_own(entry: ast.expr) -> ast.Call:
    no_arguments = ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[])
    return ast.Call(func=ast.Name(ENTRY_BUILDER, ast.Load()),
                    args=[ast.Lambda(no_arguments, entry), ast.Constant(_written_id(entry)),
                          ast.Constant(entry.lineno)],
                    keywords=[])


def _module_name(path: Path) -> str:
    # A name of its own per file, so two files both called claims.py do not replace each other.
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    return f"backprop_audit_claims_{path.stem}_{digest}"


def _run_file(path: Path, shown: str, problems: list, made: _RecordsMade):
    """Execute the file as a module, noting the records it makes in `made`; None (and a Problem) when it
    cannot be read, compiled or run."""
    if not path.is_file():
        problems.append(Problem(shown, "no such file" if not path.exists() else "not a file"))
        return None
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        problems.append(Problem(shown, f"cannot read the file: {error}"))
        return None
    try:
        code = compile(_entries_built_one_by_one(ast.parse(source, str(path))), str(path), "exec")
    except SyntaxError as error:
        problems.append(Problem(shown, f"syntax error: {error.msg}", line=error.lineno))
        return None
    name = _module_name(path)  # the loader named: for a file not ending in .py importlib finds none
    spec = importlib.util.spec_from_file_location(name, path, loader=importlib.machinery.SourceFileLoader(name, str(path)))
    module = importlib.util.module_from_spec(spec)
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))  # kept: a claim may import the user's code when it runs
    sys.modules[spec.name] = module
    module.__dict__[ENTRY_BUILDER] = _build_entry
    try:
        with records_checked_by(made):
            exec(code, module.__dict__)
    except BaseException as error:  # the file raised while loading: that file is lost, not the run
        if not is_the_claims_own(error):
            raise
        sys.modules.pop(spec.name, None)
        kind = "cannot import" if isinstance(error, ImportError) else f"raised {type(error).__name__}"
        problems.append(Problem(shown, f"{kind} while loading: {error}", line=_line_in(path, error.__traceback__)))
        return None
    return module


def load_file(path, loaded: Loaded) -> None:
    """Add the claims of one file to `loaded` (its problems too)."""
    shown = str(path)
    path = Path(path).resolve()
    made = _RecordsMade(path)
    module = _run_file(path, shown, loaded.problems, made)
    if module is None:
        return
    claims = getattr(module, "CLAIMS", None)
    if claims is None:
        loaded.problems.append(Problem(shown, "defines no CLAIMS (write CLAIMS = [Formula(...), ...])"))
        return
    if not isinstance(claims, (list, tuple)):
        loaded.problems.append(Problem(shown, f"CLAIMS must be a list of Formula records, not {type(claims).__name__}"))
        return
    for position, claim in enumerate(claims, start=1):
        if isinstance(claim, _Unbuilt):
            loaded.problems.append(Problem(shown, claim.message, line=claim.line,
                                           claim=claim.claim or f"#{position} of CLAIMS"))
            continue
        if not isinstance(claim, Formula):
            loaded.problems.append(Problem(shown, f"is a {type(claim).__name__}, not a Formula",
                                           claim=f"#{position} of CLAIMS"))
            continue
        label = claim.id if isinstance(claim.id, str) and claim.id else f"#{position} of CLAIMS"
        here = made.of(claim)
        line = here.line if here else None
        if here and here.error is not None:
            loaded.problems.append(Problem(shown, here.error, line=line, claim=label))
            continue
        if claim.id in loaded.origin:
            first_file, first_line = loaded.origin[claim.id]
            loaded.problems.append(Problem(shown, f"duplicate id: already defined in {first_file}"
                                           + (f", line {first_line}" if first_line else ""),
                                           line=line, claim=label))
            continue
        loaded.origin[claim.id] = (shown, line)
        loaded.claims.append(claim)


def _drop_dangling_corrections(loaded: Loaded) -> None:
    ids = {c.id for c in loaded.claims}
    for claim in list(loaded.claims):
        if claim.corrects and claim.corrects not in ids:
            file, line = loaded.origin[claim.id]
            loaded.problems.append(Problem(file, f"corrects unknown id {claim.corrects!r}", line=line, claim=claim.id))
            loaded.claims.remove(claim)


def load_claims(paths, before_each=None) -> Loaded:
    """Load every file in order; duplicate ids are checked across all of them. before_each(path): called
    before each file runs (the claims worker tells its parent which file it is in, should it die there)."""
    loaded = Loaded()
    seen = set()
    for path in paths:
        if Path(path).resolve() in seen:  # `check a.py a.py`: read once (read twice, each claim was its own duplicate)
            continue
        seen.add(Path(path).resolve())
        if before_each:
            before_each(path)
        load_file(path, loaded)
    _drop_dangling_corrections(loaded)
    return loaded
