"""Where a command will write (--out, a folder; --junit, a file), checked before any work starts.

Found only when the report is written, a bad place cost the whole run and ended it with a traceback and
exit 1, which reads as "some claim does not match" (an outside tester: --out naming a file, /proc/nope,
/dev/null/x; --junit naming a folder, whose rename failed after the other files of the set were swapped in).
So the command stops at once with exit 2, bad options, and a line that names the option and the reason.

The check makes nothing: in the folder, or in the nearest folder above it that exists (where the run would
make it), a file is created and removed at once. (An interrupted run writes nothing, not even its folder.)
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _writable_folder(folder: Path) -> str | None:
    """Why files cannot be written in `folder`, or None when they can: it, or the nearest folder above it that
    exists (where the run would make it), holds a file created and removed at once. Nothing is left behind."""
    existing = next(path for path in (folder, *folder.parents) if path.exists() or path == Path(path.anchor))
    if not existing.is_dir():
        return "is a file, not a folder" if existing == folder else f"cannot be made: {existing} is a file"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        return f"cannot be written ({error.strerror or type(error).__name__})"
    return None


def problems(args) -> list[str]:
    """A line per destination of `args` (its `out` folder, its `junit` file) that cannot be written."""
    found = []
    out = getattr(args, "out", None)
    if out is not None:
        why = _writable_folder(Path(out))
        if why:
            found.append(f"--out {out}: the folder {why}")
    junit = getattr(args, "junit", None)
    if junit is not None:
        path = Path(junit)
        if path.is_dir():
            found.append(f"--junit {junit}: it is a folder; name the XML file to write")
        elif not path.name:
            found.append(f"--junit {junit}: name the XML file to write")
        else:
            folder = path.parent if str(path.parent) else Path(os.curdir)
            why = _writable_folder(folder)
            if why:
                found.append(f"--junit {junit}: its folder {folder} {why}")
    return found
