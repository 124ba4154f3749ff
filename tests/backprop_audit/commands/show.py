"""`backprop-audit show ID [ID...]`: print formulas' sections of a report already written.

Reads DIR/report.json (--out, default reports/; `check` writes to check-report/) and prints each named
formula's section as the Markdown report has it (verdict, counterexample, diagnosis, corrected form), without
the backslashes and HTML entities that Markdown needed (render_markdown.for_terminal): "z[2]", not "z\\[2\\]".
It runs nothing and writes nothing, so it can never overwrite the report being read (the reproduce line
of a failure runs a search again; this shows what the report already found).
Exit codes: 0 shown; 2 no report there, or an id the report does not have.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_parser(commands):
    parser = commands.add_parser(
        "show", help="print formulas' verdict, counterexample and diagnosis from a written report",
        description="Print the named formulas' sections of a report already written (nothing is run or written). "
                    "Exit codes: 0 shown; 2 bad options, no report there, or an unknown id.")
    parser.add_argument("ids", nargs="+", metavar="ID", help="formula or claim ids")
    parser.add_argument("--out", default="reports",
                        help="the folder the report was written to (default reports/; check writes check-report/)")
    parser.set_defaults(handler=command_show)
    return parser


def command_show(args) -> int:
    from backprop_audit.reports.render_markdown import for_terminal, render_formula
    from backprop_audit.reports.write import read_current

    path = Path(args.out) / "report.json"
    try:
        report = json.loads(read_current(path.parent, path))  # the new set as soon as it is committed
    except (OSError, ValueError) as error:
        print(f"backprop-audit show: cannot read {path}: {error}", file=sys.stderr)
        return 2
    from backprop_audit.verdicts.run import SCHEMA

    if report.get("schema") != SCHEMA:  # another contract (schema 1's setting was text): not read wrongly
        print(f"backprop-audit show: {path} follows report schema {report.get('schema')!r}, this version reads "
              f"{SCHEMA}: write the report again (backprop-audit report or check)", file=sys.stderr)
        return 2
    by_id = {f["id"]: f for f in report.get("formulas", [])}
    unknown = [i for i in args.ids if i not in by_id]
    if unknown:
        print(f"backprop-audit show: {path} has no formula {', '.join(map(repr, unknown))} "
              f"({len(by_id)} formulas there)", file=sys.stderr)
        return 2
    print(for_terminal("\n\n".join(render_formula(by_id[i]) for i in args.ids)))
    return 0
