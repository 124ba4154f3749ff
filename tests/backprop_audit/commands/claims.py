"""Loading users' claim files: the input of `backprop-audit check FILE [FILE...]`.

A claims file is a Python file that defines a list CLAIMS of backprop_audit.Formula records, the same
record the catalog (manual/) uses. It may import numpy, backprop_audit and any module beside it (the
file's folder is put on sys.path, so a claim can wrap the user's own code).

Loading never stops at the first problem. Every problem becomes a `Problem` naming the file, the
line, the claim when there is one, and what was wrong; the claims that loaded still run:
- a missing file, a syntax error, or an exception while the file runs (an ImportError, say) loses
  that file only;
- a record that is not well formed (an unknown quantity, activation or loss: Formula raises
  RecordError) loses that claim only: while a file loads, Formula's check is deferred so the list
  literal finishes, and the bad records are taken out afterwards with the line they were written on;
- an item of CLAIMS that is not a Formula, an id met before (in this file or an earlier one), or a
  `corrects` naming no loaded claim loses that claim only.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from backprop_audit.model.formula import Formula, RecordError, check_record
from backprop_audit.reports.format import problem_text

DEFERRED_ERROR = "_claims_record_error"  # attribute set on a record whose check failed while loading
DEFINED_AT = "_claims_line"  # attribute set on every record made while loading: the line in the file


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


@contextlib.contextmanager
def _deferred_record_checks(path: Path):
    """While `path` runs, a malformed Formula keeps its RecordError (and line) instead of raising.

    Why: CLAIMS is usually one list literal, and a raise in its third record would lose all the others.
    The original check is restored on exit, so nothing outside the loading is affected.
    """
    original = Formula.__post_init__

    def record_instead_of_raising(self):
        object.__setattr__(self, DEFINED_AT, _line_in(path))
        try:
            check_record(self)
        except RecordError as error:
            # The Problem names the claim already: drop the record's own "formula 'id': " prefix.
            message = str(error).removeprefix(f"formula {self.id!r}: ")
            object.__setattr__(self, DEFERRED_ERROR, (message, getattr(self, DEFINED_AT)))

    Formula.__post_init__ = record_instead_of_raising
    try:
        yield
    finally:
        Formula.__post_init__ = original


def _module_name(path: Path) -> str:
    # A name of its own per file, so two files both called claims.py do not replace each other.
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    return f"backprop_audit_claims_{path.stem}_{digest}"


def _run_file(path: Path, shown: str, problems: list):
    """Execute the file as a module; None (and a Problem) when it cannot be read, compiled or run."""
    if not path.is_file():
        problems.append(Problem(shown, "no such file" if not path.exists() else "not a file"))
        return None
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        problems.append(Problem(shown, f"cannot read the file: {error}"))
        return None
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as error:
        problems.append(Problem(shown, f"syntax error: {error.msg}", line=error.lineno))
        return None
    spec = importlib.util.spec_from_file_location(_module_name(path), path)
    module = importlib.util.module_from_spec(spec)
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))  # kept: a claim may import the user's code when it runs
    sys.modules[spec.name] = module
    try:
        with _deferred_record_checks(path):
            exec(code, module.__dict__)
    except (Exception, SystemExit) as error:  # the file raised while loading: that file is lost, not the run
        sys.modules.pop(spec.name, None)
        kind = "cannot import" if isinstance(error, ImportError) else f"raised {type(error).__name__}"
        problems.append(Problem(shown, f"{kind} while loading: {error}", line=_line_in(path, error.__traceback__)))
        return None
    return module


def load_file(path, loaded: Loaded) -> None:
    """Add the claims of one file to `loaded` (its problems too)."""
    shown = str(path)
    path = Path(path).resolve()
    module = _run_file(path, shown, loaded.problems)
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
        if not isinstance(claim, Formula):
            loaded.problems.append(Problem(shown, f"is a {type(claim).__name__}, not a Formula",
                                           claim=f"#{position} of CLAIMS"))
            continue
        label = claim.id if isinstance(claim.id, str) and claim.id else f"#{position} of CLAIMS"
        deferred = getattr(claim, DEFERRED_ERROR, None)
        if deferred is not None:
            message, line = deferred
            loaded.problems.append(Problem(shown, message, line=line, claim=label))
            continue
        if claim.id in loaded.origin:
            first_file, first_line = loaded.origin[claim.id]
            loaded.problems.append(Problem(shown, f"duplicate id: already defined in {first_file}"
                                           + (f", line {first_line}" if first_line else ""),
                                           line=getattr(claim, DEFINED_AT, None), claim=label))
            continue
        loaded.origin[claim.id] = (shown, getattr(claim, DEFINED_AT, None))
        loaded.claims.append(claim)


def _drop_dangling_corrections(loaded: Loaded) -> None:
    ids = {c.id for c in loaded.claims}
    for claim in list(loaded.claims):
        if claim.corrects and claim.corrects not in ids:
            file, line = loaded.origin[claim.id]
            loaded.problems.append(Problem(file, f"corrects unknown id {claim.corrects!r}", line=line, claim=claim.id))
            loaded.claims.remove(claim)


def load_claims(paths) -> Loaded:
    """Load every file in order; duplicate ids are checked across all of them."""
    loaded = Loaded()
    for path in paths:
        load_file(path, loaded)
    _drop_dangling_corrections(loaded)
    return loaded
