"""`backprop-audit report`: check the whole catalog and write the reports (REPORT.md, report.json)."""
from __future__ import annotations

import json
from pathlib import Path

from backprop_audit.reports.render_markdown import render_markdown
from backprop_audit.reports.write import write_atomically


def add_parser(commands):
    parser = commands.add_parser("report", help="check the whole catalog and write reports/")
    _common_options(parser)
    parser.set_defaults(handler=command_report)
    return parser


def _common_options(parser):
    parser.add_argument("--examples", type=int, default=100, help="networks per formula and dtype (default 100)")
    parser.add_argument("--dtypes", default="float64,float32", help="comma-separated (default float64,float32)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated formula ids to run")
    parser.add_argument("--out", default="reports", help="folder for the report files (default reports/)")


def _write_reports(report: dict, out: Path) -> None:
    plain = {**report, "formulas": [{k: v for k, v in f.items() if k != "ratios"} for f in report["formulas"]]}
    write_atomically(out / "report.json", json.dumps(plain, indent=2) + "\n")
    write_atomically(out / "REPORT.md", render_markdown(plain))


def _select(formulas, only: str):
    if not only:
        return formulas
    wanted = [x.strip() for x in only.split(",") if x.strip()]
    known = {f.id for f in formulas}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise SystemExit(f"backprop-audit: unknown formula id(s): {', '.join(unknown)}")
    return [f for f in formulas if f.id in wanted]


def command_report(args) -> int:
    from backprop_audit.manual import catalog
    from backprop_audit.run import run

    formulas = _select(catalog(), args.only)
    report = run(formulas, examples=args.examples, dtypes=tuple(args.dtypes.split(",")), seed=args.seed)
    out = Path(args.out)
    _write_reports(report, out)
    unexpected = [f["id"] for f in report["formulas"] if not f["matches_expectation"]]
    print(f"wrote {out / 'REPORT.md'} and {out / 'report.json'}: {len(report['formulas'])} formulas, "
          f"{sum(f['verdict'] == 'holds' for f in report['formulas'])} hold; "
          f"{len(unexpected)} differ from their expectation{': ' + ', '.join(unexpected) if unexpected else ''}")
    return 1 if unexpected else 0
