"""`backprop-audit check FILE [FILE...]`: check the user's own claims and write the same report.

The claims (see backprop_audit.commands.claims for the file format) go through the same engine as the catalog:
Hypothesis search, shrinking, diagnosis; the report (REPORT.md, report.json) goes to --out. The claims
files are loaded and checked in worker processes (commands/isolation.py): this process imports no
claims file, so whatever a claim does (sys.exit, os._exit, a crash of native code, a loop that
swallows its time limit) costs that claim its verdict, and a report is always written.

Exit codes:
- 0: every claim matches its expectation ("holds" unless the record says expected="erratum", which
  means it must fail; a claim that errors never matches);
- 1: some claim does not (it fails, holds against an "erratum" expectation, raises, returns a wrong
  shape or dtype, NaN/inf, answers differently on the same network, exceeds the time limit, or its
  worker process dies);
- 2: usage error, or any input error in the files (missing file, syntax error, import error,
  malformed record, duplicate id, unknown --only id). The claims that loaded still run and the
  report is still written; input errors take precedence over 3 and 1;
- 3: instrument fault: torch and jax disagreed beyond tolerance on some claim's network (finite
  differences' decision is in its oracle_notes); takes precedence over 1.
The decision is verdicts/exit_status.py's, shared with `backprop-audit report`.
"""
from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

from backprop_audit.commands.isolation import GRACE
from backprop_audit.commands.tally import counted, verdict_tally
from backprop_audit.judging.untrusted import TimeLimitExceeded, is_the_claims_own
from backprop_audit.model.formula import DTYPES

DEFAULT_TIME_LIMIT = 600.0


def add_parser(commands):
    parser = commands.add_parser("check", help="check your own claims files and write a report",
                                 description="Check the claims (CLAIMS = [Formula(...), ...]) in each FILE against "
                                             "torch.autograd and jax.grad, in a worker process, and write REPORT.md, "
                                             "report.json and report.html. Exit codes: 0 every claim matches its "
                                             "expectation; 1 some claim does not (an error verdict or a time limit "
                                             "too); 2 bad options, or any input error (the report is still written); "
                                             "3 an instrument fault (torch and jax disagreed); 130 interrupted.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="Python files that define CLAIMS")
    parser.add_argument("--examples", type=_positive_int, default=100, help="networks per claim and dtype (default 100)")
    parser.add_argument("--dtypes", type=_dtypes, default=("float64", "float32"),
                        help="comma-separated, from float64,float32 (default both)")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis's seed (default 0)")
    parser.add_argument("--only", default="", help="comma-separated claim ids to run (default all)")
    parser.add_argument("--out", default="check-report", help="folder for REPORT.md, report.json and report.html (default check-report/)")
    parser.add_argument("--junit", metavar="PATH", help="also write JUnit XML there (one test case per claim)")
    parser.add_argument("--time-limit", type=_positive_float, default=DEFAULT_TIME_LIMIT, metavar="SECONDS",
                        help=f"per claim; a claim still running then gets verdict error (default {DEFAULT_TIME_LIMIT:g})")
    parser.add_argument("--grace", type=_positive_float, default=GRACE, metavar="SECONDS",
                        help=f"past --time-limit, how long a claim that does not stop is given before its worker process "
                             f"is killed (default {GRACE:g})")
    parser.set_defaults(handler=command_check, starts_frameworks=False)  # its workers do (commands/isolation.py)
    return parser


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _dtypes(text):
    names = tuple(x.strip() for x in text.split(",") if x.strip())
    unknown = [n for n in names if n not in DTYPES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown dtype(s) {unknown or text!r}; known: {', '.join(DTYPES)}")
    return names


class _Timer:
    """SIGALRM after `seconds`; the handler raises TimeLimitExceeded in the running claim.

    The limit is seen between Python bytecodes: a single NumPy call longer than the limit finishes
    first. Signals only reach the main thread; elsewhere the limit is not enforced (and we say so).
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.enforced = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")

    def _expired(self, signum, frame):
        raise TimeLimitExceeded()

    def __enter__(self):
        if self.enforced:
            self.previous = signal.signal(signal.SIGALRM, self._expired)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.enforced:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


def audit_with_limit(time_limit: float, *, log=None):
    """An audit function for run(): the same audit, within `time_limit` seconds per claim, never raising.

    A claim that errors never matches its expectation here (error_confirms_erratum=False): a crash of
    the user's code says nothing about the formula it was meant to test.
    """
    from backprop_audit.verdicts.audit import audit
    from backprop_audit.verdicts.result import FormulaResult, Stop, reproduce_line
    from backprop_audit.verdicts.vocabulary import Finding

    def audit_one(formula, *, examples, dtypes, seed, command, corrected_by=None, memory=None):
        start = time.perf_counter()

        def stopped(finding, message):
            return FormulaResult.stopped(formula, Stop(finding, message), seconds=time.perf_counter() - start,
                                         corrected_by=corrected_by,
                                         reproduce=reproduce_line(command, formula.id, dtypes=dtypes,
                                                                  examples=examples, seed=seed))
        try:
            with _Timer(time_limit):
                result = audit(formula, examples=examples, dtypes=dtypes, seed=seed, corrected_by=corrected_by,
                               command=command, error_confirms_erratum=False, memory=memory)
        except TimeLimitExceeded:
            result = stopped(Finding.TIME_LIMIT, f"time limit: still running after {time_limit:g} s (--time-limit)")
        except BaseException as error:  # the engine failed on this claim (or on what it returned): report it
            if not is_the_claims_own(error):
                raise
            result = stopped(Finding.RAISED, f"the check raised {type(error).__name__}: {error}")
        if log:
            log(f"{formula.id}: {result.verdict} (expected {formula.expected}, {counted(result.examples, 'example')}, "
                f"{time.perf_counter() - start:.1f} s)")
        return result

    return audit_one


def command_check(args) -> int:
    from backprop_audit.commands.isolation import Job, check_in_workers
    from backprop_audit.commands.report import append_step_summary, write_reports
    from backprop_audit.verdicts.exit_status import exit_status
    from backprop_audit.verdicts.run import environment, report_data

    def log(message):
        print(f"backprop-audit check: {message}", file=sys.stderr, flush=True)

    command = "backprop-audit check " + shlex.join(args.files)
    start = time.perf_counter()
    checked = check_in_workers(Job(tuple(args.files), args.only, args.examples, tuple(args.dtypes), args.seed,
                                   args.time_limit, command, args.grace), log)
    report = report_data(checked.ordered_entries, environment=checked.environment or environment(args.dtypes),
                         examples=args.examples, seed=args.seed, seconds=time.perf_counter() - start)
    report["claims_files"] = list(args.files)
    report["settings"]["time_limit_seconds"] = args.time_limit
    report["settings"]["grace_seconds"] = args.grace
    report["input_errors"] = checked.problems
    written = write_reports(report, Path(args.out), args.junit)
    append_step_summary(report)
    entries = report["formulas"]
    unexpected = [f["id"] for f in entries if not f["matches_expectation"]]
    print(f"wrote {', '.join(map(str, written))}: {verdict_tally(entries, 'claim checked', 'claims checked')}; "
          f"{len(unexpected)} differ from their expectation{': ' + ', '.join(unexpected) if unexpected else ''}; "
          f"{len(checked.problems)} input error(s)")
    return exit_status(report, warn=log)
