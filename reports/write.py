"""Writing report files atomically: a run that is interrupted leaves the previous report in place.

Each file is written to a temporary file beside its target and renamed over it (a rename is atomic on
POSIX). `write_all_atomically` writes every temporary file first and renames only when all of them
were written, so the report files are replaced together or not at all.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _readable_mode() -> int:
    """The mode a plain open() would give a new file (mkstemp's files are private, 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _temporary_copy(path: Path, text: str | bytes) -> str:
    """Write `text` to a new temporary file in `path`'s folder; return its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not isinstance(text, (str, bytes)):
        raise TypeError(f"{path}: expected the file's text (str or bytes), got {type(text).__name__}")
    mode = "wb" if isinstance(text, bytes) else "w"
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as out:
            out.write(text)
        os.chmod(temporary, _readable_mode())
    except BaseException:
        os.unlink(temporary)
        raise
    return temporary


def write_atomically(path: Path, text: str | bytes) -> None:
    """Write one file: to a temporary file beside `path`, then rename over it."""
    write_all_atomically({path: text})


def write_all_atomically(files: dict) -> None:
    """Write {path: text} for every file, then rename them all into place; if writing any of them
    fails, none of the targets is touched and the temporary files are removed."""
    written = []
    try:
        for path, text in files.items():
            written.append((_temporary_copy(Path(path), text), Path(path)))
    except BaseException:
        for temporary, _ in written:
            os.unlink(temporary)
        raise
    for temporary, path in written:
        os.replace(temporary, path)
