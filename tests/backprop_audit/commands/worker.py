"""The claims worker: the process in which `backprop-audit check` loads claims files and checks claims.

A claim is untrusted code, so the command's own process never imports a claims file: it starts this
worker (`python -m backprop_audit.commands.worker JOB FD`, commands/isolation.py) and reads what it
finds from a private pipe (file descriptor FD), one JSON message a line:
  {"environment": {...}}                      the versions and oracles, once the frameworks are set up
  {"loading": file}                           before each claims file is run
  {"loaded": {"problems", "claims", "corrected_by"}}  the input errors, each claim's record fields
  {"start": id, "output": path}               before each claim is checked; its prints go to `path`
  {"entry": {...}}                            the claim's report entry (verdicts/entry.py report_entry)
  {"finished": true}
The claims may print to stdout and stderr: while a claim is checked both file descriptors point to its
output file (so C code's prints are caught too), and the entry carries the first few KB of it. The
worker ignores SIGINT: a Ctrl-C stops the command, which kills the worker; so a KeyboardInterrupt here
can only be raised by a claim's code, and is that claim's error (judging/untrusted.py).
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path

OUTPUT_LIMIT = 4000  # characters of a claim's output kept in its report entry


def select(claims, only: str, problems: list):
    """The claims --only names (all when empty); an id no claim has is an input error."""
    from backprop_audit.commands.claims import Problem

    if not only:
        return claims
    wanted = [x.strip() for x in only.split(",") if x.strip()]
    known = {c.id for c in claims}
    for name in wanted:
        if name not in known:
            problems.append(Problem("--only", f"no loaded claim has id {name!r}; loaded: {', '.join(sorted(known)) or 'none'}"))
    return [c for c in claims if c.id in wanted]


def warm_oracles(claims, dtypes) -> None:
    """Compile (or load) the oracles, single and stacked, for every depth the claims can draw, before
    any claim's clock starts.

    Why: the jax oracle compiles once per (depth, size bucket, dtype), several seconds each on a busy
    machine, and even a load from the persistent cache traces first (~1 s a worker here); without this,
    whichever claim a worker checks first would be charged for it against --time-limit.
    """
    from backprop_audit import references
    from backprop_audit.batching.padded import PaddedStack
    from backprop_audit.model.network import smallest

    for dtype in dtypes:
        for depth in range(1, max((c.setting.depth[1] for c in claims), default=0) + 1):
            references.quantities(smallest(depth, dtype))
            stack = PaddedStack.of([smallest(depth, dtype)])
            for name in references.require():
                references._load(name).padded_quantities(stack)


@contextlib.contextmanager
def output_captured_in(path: Path):
    """File descriptors 1 and 2 (and sys.stdout, sys.stderr) write to `path` inside the block."""
    sys.stdout.flush(), sys.stderr.flush()
    saved, streams = (os.dup(1), os.dup(2)), (sys.stdout, sys.stderr)
    with open(path, "wb") as sink:
        os.dup2(sink.fileno(), 1), os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a claim may have replaced or closed them
                stream.flush()
        sys.stdout, sys.stderr = streams
        os.dup2(saved[0], 1), os.dup2(saved[1], 2)
        os.close(saved[0]), os.close(saved[1])


def read_output(path) -> str:
    """A claim's captured output, cut to OUTPUT_LIMIT characters (saying how much more there was)."""
    try:
        text = Path(path).read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return ""
    if len(text) <= OUTPUT_LIMIT:
        return text
    return text[:OUTPUT_LIMIT] + f"\n… ({len(text) - OUTPUT_LIMIT} more characters not shown)"


def main(argv) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    job, channel = json.loads(argv[0]), os.fdopen(int(argv[1]), "w", encoding="utf-8")

    def send(**message):
        channel.write(json.dumps(message, default=str) + "\n")
        channel.flush()

    from backprop_audit import references
    references.start()
    from backprop_audit.commands.check import audit_with_limit
    from backprop_audit.commands.claims import load_claims
    from backprop_audit.judging.memory import RunMemory
    from backprop_audit.model.formula import corrections_among
    from backprop_audit.verdicts.entry import record_fields, report_entry
    from backprop_audit.verdicts.run import environment

    dtypes = tuple(job["dtypes"])
    send(environment=environment(dtypes))
    loaded = load_claims([f for f in job["files"] if f not in job["skip"]], before_each=lambda f: send(loading=f))
    claims = select(loaded.claims, job["only"], loaded.problems)
    corrected_by = corrections_among(claims)  # the loader dropped a dangling link as an input error
    send(loaded={"problems": [p.as_dict() for p in loaded.problems], "claims": [record_fields(c) for c in claims],
                 "corrected_by": corrected_by})
    warm_oracles(claims, dtypes)
    audit_one, memory = audit_with_limit(job["time_limit"]), RunMemory()
    for number, claim in enumerate(claims):
        if claim.id in job["done"]:
            continue
        output = Path(job["folder"]) / f"{number}.out"
        send(start=claim.id, output=str(output))
        with output_captured_in(output):
            result = audit_one(claim, examples=job["examples"], dtypes=dtypes, seed=job["seed"],
                               corrected_by=corrected_by.get(claim.id), command=job["command"], memory=memory)
        result.output = read_output(output)
        send(entry=report_entry(result))
    send(finished=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
