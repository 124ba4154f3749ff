"""Progress of a catalog run: which formula is being checked, how many are done, failures so far, an ETA.

Two forms, chosen by `progress_printer`:
- on a terminal (stderr a tty, CI not set), one status line rewritten in place. A timer thread redraws
  it twice a second, so the elapsed time ticks while one formula takes seconds; `close()` stops the
  thread (and waits for it) before the final line, so nothing is drawn after the command's own output.
- elsewhere (a CI job, a pipe, a log file), one plain line per formula as it finishes, and one per
  phase: a log that grows while the run works, with no control characters in it.

run() reports `started(formula_id)` and `finished(entry)` (the report.json entry); the command reports
its later phases with `phase("writing reports")`.
"""
from __future__ import annotations

import os
import shutil
import sys
import threading
import time

from backprop_audit.commands.tally import counted
from backprop_audit.verdicts.vocabulary import Verdict

PREFIX = "backprop-audit: "
REDRAW_SECONDS = 0.5


def on_terminal(stream, environ) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not environ.get("CI")


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


class Progress:
    """The run's counts, shared by both forms: formulas done, examples, failures, the current formula."""

    def __init__(self, total: int, stream, clock=time.monotonic):
        self.total, self.stream, self.clock = total, stream, clock
        self.start = clock()
        self.done = self.examples = self.failed = self.unexpected = 0
        self.current: str | None = None
        self.current_phase: str | None = None

    def started(self, formula_id: str) -> None:
        self.current = formula_id

    def finished(self, entry: dict) -> None:
        self.done += 1
        self.examples += entry["examples"]
        self.failed += entry["verdict"] != Verdict.HOLDS
        self.unexpected += not entry["matches_expectation"]
        self.current = None

    def phase(self, name: str) -> None:
        self.current_phase = name

    def close(self) -> None:
        pass

    def elapsed(self) -> float:
        return self.clock() - self.start

    def eta(self) -> str:
        if not self.done or self.done >= self.total:
            return ""
        left = self.elapsed() / self.done * (self.total - self.done)
        return f", ~{_seconds(left)} left"

    def counts(self) -> str:
        return (f"{self.done}/{self.total} formulas, {self.examples} examples, {self.failed} fail or error "
                f"({self.unexpected} unexpected)")

    def status(self) -> str:
        """The terminal's status line; what is being done comes last, where a narrow terminal cuts it."""
        doing = (f" · {self.current_phase}" if self.current_phase
                 else f" · checking {self.current}" if self.current else "")
        return f"{PREFIX}{self.counts()}, {_seconds(self.elapsed())} elapsed{self.eta()}{doing}"


class PlainLines(Progress):
    """One line per finished formula and per phase (CI, pipes, log files)."""

    def finished(self, entry: dict) -> None:
        super().finished(entry)
        expectation = "" if entry["matches_expectation"] else f" — expected {entry['expected']}"
        self._say(f"[{self.done}/{self.total}] {entry['id']}: {entry['verdict']}{expectation} "
                  f"({counted(entry['examples'], 'example')}; {self.failed} fail or error so far, {self.unexpected} unexpected; "
                  f"{_seconds(self.elapsed())} elapsed{self.eta()})")

    def phase(self, name: str) -> None:
        super().phase(name)
        self._say(f"{name} ({_seconds(self.elapsed())} elapsed)")

    def _say(self, text: str) -> None:
        self.stream.write(PREFIX + text + "\n")
        self.stream.flush()


class LiveLine(Progress):
    """The status line on a terminal, redrawn by a timer thread until close()."""

    def __init__(self, total: int, stream, clock=time.monotonic, redraw_seconds: float = REDRAW_SECONDS):
        super().__init__(total, stream, clock)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, args=(redraw_seconds,), name="progress", daemon=True)
        self._thread.start()

    def _tick(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            self.draw()

    def draw(self, end: str = "") -> None:
        # cut to the terminal's width: a wrapped line cannot be rewritten by "\r"
        width = shutil.get_terminal_size((100, 24)).columns - 1
        with self._lock:
            # "\r" and the erase-line code rewrite the same line
            self.stream.write("\r\x1b[2K" + self.status()[:width] + end)
            self.stream.flush()

    def started(self, formula_id: str) -> None:
        super().started(formula_id)
        self.draw()

    def finished(self, entry: dict) -> None:
        super().finished(entry)
        self.draw()

    def phase(self, name: str) -> None:
        super().phase(name)
        self.draw()

    def close(self) -> None:
        """Stop the timer (waiting for it) and leave the last state on its own line."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        self.current_phase = None
        self.draw(end="\n")


def progress_printer(total: int, stream=None, environ=None, clock=time.monotonic) -> Progress:
    """The progress of a run of `total` formulas, in the form its stream wants; call close() at the end."""
    stream = sys.stderr if stream is None else stream
    environ = os.environ if environ is None else environ
    form = LiveLine if on_terminal(stream, environ) else PlainLines
    return form(total, stream, clock)
