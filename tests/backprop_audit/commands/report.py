"""`backprop-audit report`: check the whole catalog and write the reports.

Writes REPORT.md, report.json and report.html to --out (default reports/), and JUnit XML with
--junit PATH. All of them are rendered first, then swapped in as one set (reports/write.py), so a run
that is interrupted, fails while rendering or is killed while writing leaves the previous set or the new
one, never a mix, and nothing behind once the next run has written. When
$GITHUB_STEP_SUMMARY is set (a GitHub Actions step), the summary table is appended to that file.
Exit status (verdicts/exit_status.py): 0 as expected, 1 a verdict differs, 2 a usage error, 3 an
instrument fault (torch and jax disagreed beyond tolerance).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from backprop_audit.commands.progress import progress_printer
from backprop_audit.reports.render_html import render_html
from backprop_audit.reports.render_json import render_json
from backprop_audit.reports.render_junit import render_junit
from backprop_audit.reports.render_markdown import render_markdown, render_summary
from backprop_audit.reports.write import write_report_set


def add_parser(commands):
    parser = commands.add_parser(
        "report", help="check the whole catalog and write reports/",
        description="Check the catalog's formulas (the four source documents' backpropagation formulas, as "
                    "written) against torch.autograd and jax.grad on networks Hypothesis generates, and write "
                    "REPORT.md, report.json and report.html, swapped in together at the end. Exit codes: 0 every "
                    "verdict as expected; 1 some verdict differs; 2 bad options or an unknown --only id (nothing "
                    "runs); 3 an instrument fault (torch and jax disagreed; the report is written); 130 "
                    "interrupted (the earlier report kept).")
    _common_options(parser)
    parser.add_argument("--junit", metavar="PATH", help="also write JUnit XML there (one test case per formula)")
    parser.set_defaults(handler=command_report, usage_error=parser.error)
    return parser


def _common_options(parser):
    from backprop_audit.commands.check import _dtypes, _positive_int  # the same option checks as `check`

    parser.add_argument("--examples", type=_positive_int, default=100, help="networks per formula and dtype (default 100)")
    parser.add_argument("--dtypes", type=_dtypes, default=("float64", "float32"),
                        help="comma-separated, from float64,float32 (default both)")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis's seed: the same seed, the same verdicts and "
                                                            "counterexamples (default 0)")
    parser.add_argument("--only", default="", help="comma-separated formula ids to run (default all)")
    parser.add_argument("--out", default="reports", help="folder for the report files (default reports/)")


def report_files(report: dict, out: Path, junit: str | None = None) -> dict:
    """{path: text} of every report file; rendering happens here, before anything is written."""
    files = {out / "REPORT.md": render_markdown(report), out / "report.json": render_json(report),
             out / "report.html": render_html(report)}
    if junit:
        files[Path(junit)] = render_junit(report)
    return files


def write_reports(report: dict, out: Path, junit: str | None = None) -> list[Path]:
    files = report_files(report, out, junit)
    write_report_set(out, files)
    return list(files)


def append_step_summary(report: dict, environ=os.environ) -> None:
    """In a GitHub Actions step, add the summary table to the job's summary page."""
    path = environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write("## backprop-audit\n\n" + render_summary(report, links=False) + "\n")


def _select(formulas, only: str, usage_error):
    """The formulas --only names; an unknown id is a usage error (exit 2, one line), nothing runs."""
    if not only:
        return formulas
    wanted = [x.strip() for x in only.split(",") if x.strip()]
    known = {f.id for f in formulas}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        usage_error(f"--only: unknown formula id(s) {', '.join(unknown)} (the catalog has {len(known)})")
    return [f for f in formulas if f.id in wanted]


def command_report(args) -> int:
    from backprop_audit.commands.tally import verdict_tally
    from backprop_audit.manual import catalog, notations
    from backprop_audit.verdicts.exit_status import exit_status
    from backprop_audit.verdicts.run import run

    formulas = _select(catalog(), args.only, args.usage_error)
    progress = progress_printer(len(formulas))
    try:
        report = run(formulas, examples=args.examples, dtypes=args.dtypes, seed=args.seed, progress=progress)
        shown = {f["source"]["document"] for f in report["formulas"]}
        report["documents"] = {doc: {"notation": text} for doc, text in notations().items() if doc in shown}
        progress.phase("writing reports")
        written = write_reports(report, Path(args.out), args.junit)
        append_step_summary(report)
    finally:
        progress.close()  # stops the terminal's redraw thread, interrupted or not
    unexpected = [f["id"] for f in report["formulas"] if not f["matches_expectation"]]
    print(f"wrote {', '.join(map(str, written))}: {verdict_tally(report['formulas'], 'formula')}; "
          f"{len(unexpected)} differ from their expectation{': ' + ', '.join(unexpected) if unexpected else ''}")
    return exit_status(report, warn=lambda line: print(f"backprop-audit report: {line}", file=sys.stderr))
