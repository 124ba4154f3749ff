"""Check backpropagation formulas against torch.autograd and jax.grad, and write a report.

Each subcommand lives in its own module backprop_audit/commands/<name>.py, which provides
add_parser(subparsers); its handler returns the exit code (0 every verdict as expected, 1 a verdict
differs from its expectation, 2 a usage or input error, 3 an instrument fault: torch and jax disagree;
backprop_audit.verdicts.exit_status).
"""
from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys

SUBCOMMANDS = ("report", "check", "show", "bench", "soak")
WRITING = ("report", "check", "bench", "soak")  # the commands whose --out (and --junit) are written
EPILOG = ("Exit codes: 0 every verdict as expected; 1 some verdict differs; 2 bad options or input; 3 an "
          "instrument fault (torch and jax disagree); 130 interrupted. `backprop-audit COMMAND --help` says "
          "what each command does and its own exit codes. From a test: from backprop_audit import assert_holds.")


# The garbage collector's thresholds in a process of backprop-audit's own (the command, its claims workers, the test
# session): the checks allocate fast and keep much in their RunMemory, and at Python's defaults (700, 10, 10) the
# collector walked it thousands of times; `backprop-audit report` A/B 0.87 of the wall time (0.79-1.11, 3 pairs).
# Cycles are still collected, less often. Not set by main(), which a user's program may call in its own process.
GC_THRESHOLDS = (20000, 20, 20)


def run() -> int:
    """The `backprop-audit` command (its console script, `python -m backprop_audit`): main() in a process of its own."""
    gc.set_threshold(*GC_THRESHOLDS)
    return main()


def main(argv=None) -> int:
    from backprop_audit import __version__
    from backprop_audit.commands import destinations

    parser = argparse.ArgumentParser(prog="backprop-audit", description=__doc__.splitlines()[0], epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"backprop-audit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"backprop_audit.commands.{name}").add_parser(commands)
    args = parser.parse_args(argv)
    bad_places = destinations.problems(args) if args.command in WRITING else []  # show's --out is read
    if bad_places:  # before any work: a run whose report cannot be written is not started
        print(f"backprop-audit {args.command}: error: " + "; ".join(bad_places), file=sys.stderr)
        return USAGE_ERROR
    from backprop_audit import references  # a command that runs checks: torch and jax set up before any

    if getattr(args, "starts_frameworks", True):  # `check` runs its checks in worker processes
        references.start()
    try:
        return args.handler(args)
    except BrokenPipeError:  # `backprop-audit show ID | head`: the reader left; no traceback on stderr
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own flush at exit would raise again
        return BROKEN_PIPE
    except KeyboardInterrupt:  # Ctrl-C: one line, not a framework's traceback; reports are written last
        print(f"backprop-audit {args.command}: interrupted; no report was written, earlier ones are as they were",
              file=sys.stderr)
        return INTERRUPTED


USAGE_ERROR = 2  # bad options (argparse's own code)
INTERRUPTED = 130  # the shell's code for a run ended by SIGINT
BROKEN_PIPE = 141  # and by SIGPIPE


if __name__ == "__main__":
    sys.exit(run())
