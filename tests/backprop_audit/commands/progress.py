"""Progress of a catalog run on the terminal: formulas done / total, examples checked, time elapsed.

Shown only to a person watching: when stderr is a terminal and CI is not set. Otherwise (a pipe, a
log file, a CI job) `progress_printer` returns None and the run prints nothing while it works.
"""
from __future__ import annotations

import os
import sys


def wanted(stream, environ) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not environ.get("CI")


def progress_line(done: int, total: int, examples: int, elapsed: float) -> str:
    return f"backprop-audit: {done}/{total} formulas, {examples} examples, {elapsed:.1f} s elapsed"


def progress_printer(stream=None, environ=None):
    """A callback for run(progress=...) that rewrites one status line, or None when not wanted."""
    stream = sys.stderr if stream is None else stream
    environ = os.environ if environ is None else environ
    if not wanted(stream, environ):
        return None

    def show(done: int, total: int, examples: int, elapsed: float) -> None:
        # "\r" and the erase-line code rewrite the same line; the last one ends with a newline.
        stream.write("\r\x1b[2K" + progress_line(done, total, examples, elapsed) + ("\n" if done == total else ""))
        stream.flush()

    return show
