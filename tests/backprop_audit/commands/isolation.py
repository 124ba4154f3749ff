"""Running claims files in a worker process with a watchdog: whatever a claim does costs it its verdict
and nothing else.

`check` never imports a claims file. It starts a zygote (commands/zygote.py: torch, jax and the engine
imported once), which forks each worker (commands/worker.py) `check` asks for; `check` reads its messages;
the watchdog here gives a claims file --time-limit to load and a claim --time-limit to be checked,
plus GRACE (the worker's own timer stops a claim at --time-limit; the watchdog is for a claim that
does not stop then, such as a loop with a bare `except:` that swallows the time-limit exception).
When the worker dies (os._exit, a crash of native code, a kill by the watchdog) the claim it was
checking gets verdict error saying so (or, while a file loaded, that file an input error), and a new
worker checks the claims that remain. Every claim gets an entry, so a report is always written.
The entry of a claim whose worker died is written here by the same writer (verdicts/entry.py) from
the record fields the worker sent when it loaded the claim.
"""
from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from backprop_audit.commands.tally import counted
from backprop_audit.reports.format import problem_text
from backprop_audit.verdicts.entry import report_entry
from backprop_audit.verdicts.result import FormulaResult, Stop, reproduce_line
from backprop_audit.verdicts.vocabulary import Finding

GRACE = 5.0  # seconds past --time-limit before the watchdog kills a worker that did not stop


@dataclass(frozen=True)
class Job:
    """What `check` asks for, as the worker receives it."""

    files: tuple
    only: str
    examples: int
    dtypes: tuple
    seed: int
    time_limit: float
    command: str  # the command line a claim's reproduce line starts with
    grace: float = GRACE  # seconds past time_limit before the watchdog kills the worker (--grace)


@dataclass
class Checked:
    """What the workers sent: the environment, the input errors, and each claim's entry in file order."""

    environment: dict | None = None
    loading_problems: list = field(default_factory=list)  # the worker's input errors (claims.Problem.as_dict)
    lost_file_problems: list = field(default_factory=list)  # a file that killed a worker while loading
    records: dict = field(default_factory=dict)  # claim id -> its record fields, in the order loaded
    corrected_by: dict = field(default_factory=dict)
    entries: dict = field(default_factory=dict)  # claim id -> its report entry
    lost_files: list = field(default_factory=list)  # files whose loading killed a worker

    @property
    def problems(self) -> list:
        return self.loading_problems + self.lost_file_problems

    @property
    def ordered_entries(self) -> list:
        return [self.entries[claim] for claim in self.records if claim in self.entries]


class _Zygote:
    """The process that forks the workers (commands/zygote.py), its control socket and its own log.

    One zygote serves every `check` run of this process that has the same environment (`shared_zygote()`): the
    command line makes one run per process, but a program or a test suite that calls `check` in-process
    many times would otherwise pay ~3 s of imports for each. A worker is forked afresh for every run, so
    nothing of one run reaches the next; the zygote itself runs no claim."""

    def __init__(self):
        import socket

        self.control, theirs = socket.socketpair()
        self.log = tempfile.TemporaryFile()  # the zygote's own prints (import warnings; its traceback if it fails)
        self.log_read = 0
        # -P: the current folder is not put on sys.path (as for the backprop-audit script); a claims
        # file's own folder is (claims.py). The workers it forks inherit that sys.path.
        self.process = subprocess.Popen([sys.executable, "-P", "-m", "backprop_audit.commands.zygote",
                                         str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                                        stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        theirs.close()
        self.pending = b""

    def new_output(self) -> bytes:
        """What the zygote printed since the last call (shown with the run's own log)."""
        self.log.seek(self.log_read)
        text = self.log.read()
        self.log_read += len(text)
        return text

    def alive(self) -> bool:
        """Running, and nothing unread on its socket (an unread reply, or the end of a zygote that died)."""
        return (self.process.poll() is None and not self.pending
                and not select.select([self.control], [], [], 0)[0])

    def fork(self, task: dict, channel: int, log_file) -> "_Forked":
        import socket

        socket.send_fds(self.control, [json.dumps(task).encode()], [channel, log_file.fileno()])
        reply = self.reply()
        if reply is None:
            raise WorkerFailed("the process that starts the claims workers ended (see its log above)")
        return _Forked(reply["pid"], self)

    def reply(self):
        """The next line the zygote sent, or None when it is gone."""
        while b"\n" not in self.pending:
            chunk = self.control.recv(1 << 16)
            if not chunk:
                return None
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)

    def close(self) -> None:
        self.control.close()  # the zygote's loop ends on the closed socket
        try:
            self.process.wait(timeout=GRACE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


_shared: dict = {}  # the environment a zygote was started in -> that zygote (at most one is kept)


# Variables no import reads, which change from call to call: a worker is given the caller's environment as it is
# at the fork anyway (the task's "environ"). PYTEST_CURRENT_TEST: set by pytest to the test running now.
# GITHUB_STEP_SUMMARY: a GitHub Actions step's own file, read by `report`/`check` in the calling process when
# they write the summary (commands/report.py), never by a worker (a suite setting it for one run started a
# second zygote, ~2 s of CPU in imports).
_PER_CALL_VARIABLES = ("PYTEST_CURRENT_TEST", "GITHUB_STEP_SUMMARY")


def _environment_key() -> tuple:
    """What the zygote's imports may have read at its start: the interpreter, the environment variables
    (PYTHONPATH, JAX's and torch's settings, the cache folder) and the current folder."""
    variables = sorted((k, v) for k, v in os.environ.items() if k not in _PER_CALL_VARIABLES)
    return sys.executable, tuple(variables), os.getcwd()


def shared_zygote() -> _Zygote:
    """The zygote started in this environment, if it is still running and idle; else a new one (and the
    old one closed). Closed when the process ends."""
    key = _environment_key()
    zygote = _shared.get(key)
    if zygote is None or not zygote.alive():
        for old in _shared.values():
            old.close()
        _shared.clear()
        zygote = _shared[key] = _Zygote()
    return zygote


@atexit.register
def _close_shared() -> None:
    for zygote in _shared.values():
        zygote.close()
    _shared.clear()


class _Forked:
    """A worker forked by the zygote, with subprocess.Popen's poll/kill/wait (the zygote reports its end)."""

    def __init__(self, pid: int, zygote: _Zygote):
        self.pid, self.zygote, self.returncode = pid, zygote, None

    def poll(self):
        """The exit code if the zygote has reported it (without waiting), else None."""
        if self.returncode is None and (b"\n" in self.zygote.pending
                                        or select.select([self.zygote.control], [], [], 0)[0]):
            self.wait()
        return self.returncode

    def kill(self) -> None:
        import signal

        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:  # it ended on its own in the meantime; the zygote says how
                pass

    def wait(self) -> int:
        if self.returncode is None:
            reply = self.zygote.reply()
            self.returncode = reply["exited"] if reply else -9  # the zygote gone: its worker went with it
        return self.returncode


class _Worker:
    """One worker process (forked by the run's zygote) and its pipe; `message(deadline)` is its next
    message, or None when it is gone (it died, or the deadline passed: then it is killed)."""

    def __init__(self, job: Job, checked: Checked, folder: Path, log_file, zygote: _Zygote):
        read, write = os.pipe()
        task = {**job.__dict__, "folder": str(folder), "skip": checked.lost_files,
                "done": list(checked.entries), "environ": dict(os.environ)}
        try:
            self.process = zygote.fork(task, write, log_file)
        finally:
            os.close(write)
        self.pipe, self.pending, self.timed_out = read, b"", False

    def message(self, deadline: float | None):
        while b"\n" not in self.pending:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self.pipe], [], [], wait)[0]:
                self.timed_out = True
                self.stop()
                return None
            chunk = os.read(self.pipe, 1 << 16)
            if not chunk:
                return None
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        self.stop()
        os.close(self.pipe)

    def death(self) -> str:
        """How the worker ended, as the end of a sentence."""
        code = self.process.wait()
        if code < 0:
            import signal
            return f"its worker process was killed by signal {signal.Signals(-code).name} (a crash in native code?)"
        return f"its worker process exited with status {code} (os._exit, or a crash)"


def _stopped_entry(job: Job, checked: Checked, claim: str, finding: Finding, message: str, seconds: float,
                   output: str | None) -> dict:
    reproduce = reproduce_line(job.command, claim, dtypes=job.dtypes, examples=job.examples, seed=job.seed)
    return report_entry(FormulaResult.stopped(checked.records[claim], Stop(finding, message), seconds=seconds,
                                              reproduce=reproduce, corrected_by=checked.corrected_by.get(claim),
                                              output=output))


def _one_worker(job: Job, checked: Checked, folder: Path, log_file, log, zygote: _Zygote) -> bool:
    """Run one worker until it finishes (True) or dies (False: the claim or file it was in is charged)."""
    from backprop_audit.commands.worker import read_output

    worker = _Worker(job, checked, folder, log_file, zygote)
    limit = job.time_limit + job.grace
    phase, started, output = None, 0.0, None  # ("file", path) or ("claim", id), while in one
    try:
        while True:
            message = worker.message(started + limit if phase else None)
            if message is None:
                break
            if "environment" in message:
                checked.environment = message["environment"]
            elif "loading" in message:
                phase, started = ("file", message["loading"]), time.monotonic()
            elif "loaded" in message:
                loaded = message["loaded"]
                checked.loading_problems = loaded["problems"]
                checked.records = {record["id"]: record for record in loaded["claims"]}
                checked.corrected_by = loaded["corrected_by"]
                phase = None
                if not checked.entries:
                    for problem in loaded["problems"]:
                        log(f"input error: {problem_text(problem)}")
            elif "start" in message:
                phase, started, output = ("claim", message["start"]), time.monotonic(), message["output"]
            elif "entry" in message:
                entry = message["entry"]
                checked.entries[entry["id"]] = entry
                phase = None
                log(f"{entry['id']}: {entry['verdict']} (expected {entry['expected']}, {counted(entry['examples'], 'example')}, "
                    f"{entry['seconds']:.1f} s)")
            elif "finished" in message:
                return True
        seconds = time.monotonic() - started
        if worker.timed_out:
            what = (f"time limit: still running after {limit:g} s ({job.time_limit:g} s of --time-limit and "
                    f"{job.grace:g} s of grace): it did not stop when its time limit was raised in it (does it "
                    f"catch every exception?), so its worker process was killed")
            finding = Finding.TIME_LIMIT
        else:
            what, finding = "stopped: " + worker.death(), Finding.CRASHED
        worker.stop()
        if phase is None:
            raise WorkerFailed(what)
        kind, name = phase
        if kind == "file":
            checked.lost_files.append(name)
            problem = {"file": name, "line": None, "claim": None,
                       "message": f"while loading, {what.removeprefix('stopped: ')}"}
            checked.lost_file_problems.append(problem)
            log(f"input error: {problem_text(problem)}")
        else:
            checked.entries[name] = _stopped_entry(job, checked, name, finding, what, seconds, read_output(output))
            log(f"{name}: error ({what})")
        return False
    finally:
        worker.close()


class WorkerFailed(Exception):
    """A worker died outside any claim or claims file: the engine's own failure, not a claim's."""


def check_in_workers(job: Job, log) -> Checked:
    """Every claim of the job checked in workers, one after another, a new one after each that died."""
    checked = Checked()
    folder = Path(tempfile.mkdtemp(prefix="backprop-audit-check-"))
    try:
        with open(folder / "worker.log", "w+b") as log_file:
            zygote = shared_zygote()
            try:
                while not _one_worker(job, checked, folder, log_file, log, zygote):
                    pass
            except WorkerFailed as failure:
                _charge_the_rest(job, checked, str(failure))
            finally:
                zygote_output = zygote.new_output()
                if not zygote.alive():  # it ended (or has an unread reply): the next run starts a new one
                    _shared.clear()
                    zygote.close()
            log_file.seek(0)
            logged = (zygote_output + log_file.read()).decode("utf-8", errors="replace")
            if logged:  # what the worker printed outside any claim (a file's prints while loading, warnings)
                print(logged, end="", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return checked


def _charge_the_rest(job: Job, checked: Checked, what: str) -> None:
    """Every claim not yet checked gets verdict error; with no claim known, the run gets an input error."""
    if not checked.records:
        checked.lost_file_problems.append({"file": ", ".join(job.files), "line": None, "claim": None,
                                 "message": f"the claims worker {what.removeprefix('stopped: ')} before loading the claims"})
        return
    for claim in checked.records:
        if claim not in checked.entries:
            checked.entries[claim] = _stopped_entry(job, checked, claim, Finding.CRASHED,
                                                    f"not checked: the claims worker {what.removeprefix('stopped: ')} "
                                                    f"outside any claim", 0.0, None)
