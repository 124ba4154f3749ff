"""A report's files are swapped in as one set (reports/write.py): a child process writing a new set is
killed with SIGKILL after each step of the swap in turn, and each time a reader sees the whole old set
or the whole new one, and after the next run's recovery the files are one whole set with nothing left
behind (no journal, no staging folder, no temporary file), beside --out and beside a JUnit file outside it."""
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from backprop_audit.reports import write
from backprop_audit.reports.write import read_current, recover, write_report_set

NAMES = ("REPORT.md", "report.json", "report.html")
FILES = (*NAMES, "backprop-audit.xml")
STEPS = (["planned"] + [f"staged {name}" for name in FILES] + ["committed"]
         + [f"swapped {name}" for name in FILES] + ["cleaned", "done"])
# The child loads write.py by its path: it imports nothing else, so each child starts in milliseconds.
CHILD = """
import importlib.util, os, signal, sys
spec = importlib.util.spec_from_file_location("write", sys.argv[1])
write = importlib.util.module_from_spec(spec)
spec.loader.exec_module(write)
out, junit, kill_at, action = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
def step(name):
    if name == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
if action == "write":
    files = {os.path.join(out, name): f"new {name}" for name in ("REPORT.md", "report.json", "report.html")}
    write.write_report_set(out, {**files, junit: "new junit"}, step=step)
else:
    write.recover(out, step=step)
"""


def targets(tmp_path) -> tuple[Path, list[Path]]:
    out = tmp_path / "reports"
    return out, [out / name for name in NAMES] + [tmp_path / "junit" / "backprop-audit.xml"]


def the_set(label: str, paths) -> dict:
    return {path: (f"{label} junit" if path.suffix == ".xml" else f"{label} {path.name}") for path in paths}


def child(out: Path, junit: Path, kill_at: str, action: str = "write") -> int:
    return subprocess.run([sys.executable, "-c", CHILD, write.__file__, str(out), str(junit), kill_at, action],
                          timeout=60).returncode


def leftovers(*folders: Path) -> list[str]:
    return sorted(p.name for folder in folders for p in folder.iterdir()
                  if p.name.startswith(".backprop-audit") or p.name.endswith(".tmp"))


def seen(out: Path, paths) -> dict:
    return {path: read_current(out, path) for path in paths}


def test_the_steps_killed_below_are_every_step_of_a_swap(tmp_path):
    out, paths = targets(tmp_path)
    steps = []
    write_report_set(out, the_set("old", paths), step=steps.append)
    assert steps == STEPS


@pytest.mark.parametrize("kill_at", STEPS)
def test_a_kill_at_any_step_leaves_one_whole_set_and_the_next_run_cleans_up(tmp_path, kill_at):
    out, paths = targets(tmp_path)
    old, new = the_set("old", paths), the_set("new", paths)
    write_report_set(out, old)
    assert child(out, paths[-1], kill_at) == -signal.SIGKILL
    before_commit = kill_at == "planned" or kill_at.startswith("staged")
    assert seen(out, paths) == (old if before_commit else new), f"killed after {kill_at!r}: a mixed set"
    recover(out)  # what the next run does first
    assert {path: path.read_text() for path in paths} == (old if before_commit else new)
    assert leftovers(out, paths[-1].parent) == []
    write_report_set(out, the_set("next", paths))
    assert {path: path.read_text() for path in paths} == the_set("next", paths)
    assert leftovers(out, paths[-1].parent) == []


def test_a_recovery_killed_midway_is_finished_by_the_next_one(tmp_path):
    out, paths = targets(tmp_path)
    write_report_set(out, the_set("old", paths))
    assert child(out, paths[-1], "committed") == -signal.SIGKILL
    assert child(out, paths[-1], "swapped report.json", action="recover") == -signal.SIGKILL
    assert seen(out, paths) == the_set("new", paths)
    recover(out)
    assert {path: path.read_text() for path in paths} == the_set("new", paths)
    assert leftovers(out, paths[-1].parent) == []


def test_a_failure_while_staging_touches_no_target_and_leaves_nothing(tmp_path):
    out, paths = targets(tmp_path)
    write_report_set(out, the_set("old", paths))

    def fails(name):
        if name == "staged report.json":
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_report_set(out, the_set("new", paths), step=fails)
    assert {path: path.read_text() for path in paths} == the_set("old", paths)
    assert leftovers(out, paths[-1].parent) == []
