"""Writing report files: one file atomically, or a report's set of files swapped in as one.

A report is a set: REPORT.md, report.json and report.html in the --out folder, and the JUnit file
wherever --junit puts it. A run killed while replacing them must not leave REPORT.md new and
report.json old, nor temporary files behind. The folder itself cannot be swapped by one rename: the
default --out is reports/, which also holds this package's code. So the set goes through a journal in
the folder (JOURNAL), written whole or not at all (a temporary file renamed over it):

1. recover: finish or undo whatever an earlier, killed swap left (below);
2. plan: the journal, state "staging", names every target, the staged copy that will replace it and the
   staging folders; it is written before any staging folder exists, so none can be left unnamed;
3. stage: make the staging folders (".backprop-audit-staging-<token>": one in the folder, one beside
   any target outside it, so that every rename stays on one file system) and write each file there;
4. commit: the journal again, state "committed": this one rename is the moment the new set replaces
   the old one;
5. swap: rename each staged file over its target;
6. clean: remove the staging folders, then the journal.

Recovery, at the start of the next write: a journal still "staging" means the new set was never
complete, so its staging folders and the journal are removed and the old set stands; a "committed"
journal means it was, so every staged file still there is renamed over its target, then the staging
folders and the journal are removed. Journal temporaries and staging folders no journal names (none
should exist) are removed too. Each step is idempotent, so a recovery that is itself killed is simply
run again next time.

What a reader sees: before the commit, the old set; from the commit on, the new set through
`read_current` (a target whose staged copy is still waiting reads as that copy); `backprop-audit show`
reads this way. A reader that opens the target files directly can see a mix only between the commit
and the end of the swap: a few renames in a normal run, or until the next write when a run is killed
in there. Nothing is fsynced: this protects against a process being killed (the system keeps what was
written), not against a power cut; two runs writing the same folder at the same time are not serialised.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path

JOURNAL = ".backprop-audit-swap.json"  # in the report folder, while a set is being swapped in
STAGING_PREFIX = ".backprop-audit-staging-"


def _readable_mode() -> int:
    """The mode a plain open() would give a new file (mkstemp's files are private, 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _check_text(path: Path, text) -> None:
    if not isinstance(text, (str, bytes)):
        raise TypeError(f"{path}: expected the file's text (str or bytes), got {type(text).__name__}")


def _write(path: Path, text: str | bytes) -> None:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def write_atomically(path: Path, text: str | bytes) -> None:
    """Write one file: to a temporary file beside `path`, then rename over it (one rename: atomic)."""
    path = Path(path)
    _check_text(path, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb" if isinstance(text, bytes) else "w",
                       **({} if isinstance(text, bytes) else {"encoding": "utf-8"})) as out:
            out.write(text)
        os.chmod(temporary, _readable_mode())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


# --- the set --------------------------------------------------------------------------------------------

def _journal(folder: Path) -> dict | None:
    try:
        return json.loads((folder / JOURNAL).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _write_journal(folder: Path, journal: dict) -> None:
    write_atomically(folder / JOURNAL, json.dumps(journal, indent=1) + "\n")


def _remove_folders(journal: dict) -> None:
    for staging in journal["staging"]:
        shutil.rmtree(staging, ignore_errors=True)


def _swap(journal: dict, step) -> None:
    for staged, target in journal["files"]:
        if os.path.exists(staged):
            os.replace(staged, target)
            step(f"swapped {Path(target).name}")


def recover(folder: Path, step=lambda name: None) -> None:
    """Finish a committed swap, or undo an uncommitted one, that a killed run left in `folder`."""
    folder = Path(folder)
    journal = _journal(folder)
    if journal is not None:
        if journal["state"] == "committed":
            _swap(journal, step)
        _remove_folders(journal)
        (folder / JOURNAL).unlink()
    if folder.is_dir():
        for stray in folder.iterdir():
            if stray.name.startswith(f".{JOURNAL}.") and stray.name.endswith(".tmp"):  # write_atomically's
                stray.unlink()
            elif stray.name.startswith(STAGING_PREFIX) and stray.is_dir():
                shutil.rmtree(stray, ignore_errors=True)


def _plan(folder: Path, files: dict) -> dict:
    """The journal of a new swap: one staging folder per target folder, each file's staged copy there."""
    token = secrets.token_hex(8)
    staging, renames = {}, []
    for path in files:
        target = Path(path).resolve()
        place = staging.setdefault(target.parent, target.parent / f"{STAGING_PREFIX}{token}")
        renames.append((str(place / target.name), str(target)))
    return {"state": "staging", "staging": [str(p) for p in staging.values()], "files": renames}


def write_report_set(folder: Path, files: dict, *, step=lambda name: None) -> None:
    """Replace the files {path: text} as one set, their journal in `folder` (the report folder; the
    module docstring has the steps). If writing any of them fails, none of the targets is touched and
    nothing is left behind. `step(name)` is told after each step (tests kill the process there)."""
    folder = Path(folder)
    for path, text in files.items():
        _check_text(Path(path), text)
        if Path(path).is_dir():  # its rename would fail after the others' (the commands check first: destinations.py)
            raise IsADirectoryError(f"{path}: a folder is there, the report file cannot replace it")
    folder.mkdir(parents=True, exist_ok=True)
    recover(folder)
    journal = _plan(folder, files)
    _write_journal(folder, journal)
    step("planned")
    try:
        for staging in journal["staging"]:
            Path(staging).parent.mkdir(parents=True, exist_ok=True)
            os.mkdir(staging)
        for (staged, target), text in zip(journal["files"], files.values()):
            _write(Path(staged), text)
            step(f"staged {Path(target).name}")
        _write_journal(folder, {**journal, "state": "committed"})
    except BaseException:  # not committed: the old set stands
        recover(folder)
        raise
    step("committed")
    _swap(journal, step)
    _remove_folders(journal)
    step("cleaned")
    (folder / JOURNAL).unlink()
    step("done")


def read_current(folder: Path, target: Path) -> str:
    """The current text of the report file `target`, whose set's journal is in `folder`: from the
    commit of a swap on, the new set's, even while (or because a kill left) its staged copy waiting."""
    journal = _journal(Path(folder)) or {"state": None}
    if journal["state"] == "committed":
        for staged, path in journal["files"]:
            if path == str(Path(target).resolve()):
                try:
                    return Path(staged).read_text(encoding="utf-8")
                except FileNotFoundError:  # renamed meanwhile: the target is the new one
                    break
    return Path(target).read_text(encoding="utf-8")
