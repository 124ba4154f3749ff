"""`backprop-audit soak`: many checks of correct formulas (no false alarm allowed), and with --mutants the
mutant corpus and the catalog's errata (every one must be found); writes reports/trust.json.

Exit status: 0 when the soak raised no false alarm and (with --mutants) every mutant and erratum was
found; 1 otherwise; 2 for bad options or when no oracle is installed.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path


def add_parser(commands):
    parser = commands.add_parser("soak", help="check correct formulas many times (false alarms) and, with "
                                 "--mutants, the mutant corpus; write reports/trust.json",
                                 description="Check correct formulas on many stressing networks (none may fail: "
                                             "a failure is a false alarm) and, with --mutants, search every "
                                             "deliberately wrong formula and catalog erratum (each must be found); "
                                             "write trust.json. Exit codes: 0 no false alarm (and every mutant "
                                             "found); 1 otherwise; 2 bad options, or no oracle installed.")
    parser.add_argument("--checks", type=int, default=100_000,
                        help="checks of correct formulas (one formula on one network each; default 100000; 0: none)")
    parser.add_argument("--large", type=int, default=16, help="large networks (widths to 512, batch to 256) per dtype")
    parser.add_argument("--seed", type=int, default=0, help="the soak's seed (default 0)")
    parser.add_argument("--seeds", default="", help="comma-separated seeds: --checks checks with each, in one trust.json "
                        "(default: --seed alone); the mutants use the first")
    parser.add_argument("--mutants", action="store_true", help="also search the mutant corpus and the catalog errata")
    parser.add_argument("--examples", type=int, default=50, help="networks per mutant and dtype (default 50)")
    parser.add_argument("--dtypes", default="float64,float32", help="dtypes for the mutants (default both)")
    parser.add_argument("--only", default="", help="comma-separated mutant or erratum ids")
    parser.add_argument("--out", default="reports", help="folder for trust.json (default reports/)")
    parser.add_argument("--keep-soak", action="store_true", help="with --checks 0: keep the soak of the trust.json "
                        "already in --out (its numbers, seeds and the commit it ran at, as soak_commit), so a long soak "
                        "and a later mutant run share one file")
    parser.set_defaults(handler=command_soak)
    return parser


def _say(text: str) -> None:
    print(text, flush=True)


def _commit() -> str | None:
    """The git commit of the checkout this package runs from, if it is one (None for an installed wheel)."""
    import subprocess

    try:
        found = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                               text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if found.returncode != 0:
        return None
    return found.stdout.strip() or None


def _kept_soak(path: Path) -> dict | None:
    """The soak part of an earlier trust.json (every soak_* and worst_correct* key), with the commit and time it
    ran at."""
    import json

    try:
        earlier = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    kept = {key: value for key, value in earlier.items()
            if (key.startswith("soak") or key.startswith("worst_correct")) and key != "soak_commit"}
    if not kept.get("soak_checks"):
        return None
    kept["soak_commit"] = earlier.get("soak_commit") or earlier.get("commit")
    kept["soak_generated"] = earlier.get("soak_generated") or earlier.get("generated")
    kept["soak_settings"] = earlier.get("soak_settings") or earlier.get("settings")
    return kept


def command_soak(args) -> int:
    from backprop_audit import references
    from backprop_audit.trust.soak import soak_seeds
    from backprop_audit.trust.trust import catalog_erratum_records, mutant_records, summary, write_trust

    if args.checks < 0 or args.examples < 1 or args.large < 0:
        print("backprop-audit soak: --checks and --large must be >= 0, --examples >= 1", file=sys.stderr)
        return 2
    dtypes = tuple(d.strip() for d in args.dtypes.split(",") if d.strip())
    if any(d not in ("float64", "float32") for d in dtypes):
        print(f"backprop-audit soak: --dtypes takes float64 and/or float32, got {args.dtypes!r}", file=sys.stderr)
        return 2
    try:
        seeds = [int(x) for x in args.seeds.split(",") if x.strip()] or [args.seed]
    except ValueError:
        print(f"backprop-audit soak: --seeds takes comma-separated integers, got {args.seeds!r}", file=sys.stderr)
        return 2
    args.seed = seeds[0]
    oracles = references.require()
    _say(f"oracles: {', '.join(oracles)}" + (f" (missing: {', '.join(references.missing())})" if references.missing() else ""))
    soak_summary = None
    if args.checks:
        start = time.perf_counter()
        result = soak_seeds(args.checks, seeds, large=args.large,
                            progress=lambda r, s: _say(f"  soak: {r.checks} checks, {len(r.false_alarms)} false alarms, "
                                                       f"worst {r.worst_ratio:.3g} x tolerance, {s:.0f} s"))
        soak_summary = result.summary()
        _say(f"soak: {result.checks} checks of correct formulas on {result.networks} networks "
             f"({', '.join(f'{k} {v}' for k, v in result.by_dtype.items())}; {result.skipped_networks} skipped for "
             f"overflow) in {time.perf_counter() - start:.0f} s: {len(result.false_alarms)} false alarms; worst error / "
             f"tolerance {result.worst_ratio:.4g} ({result.worst})")
        for formula_id, regime, message in result.false_alarms[:10]:
            _say(f"  FALSE ALARM {formula_id} ({regime}): {message}")
        if result.false_alarms:
            _say(f"  reproduce: backprop-audit soak --checks {args.checks} --large {args.large} --seeds "
                 f"{','.join(map(str, seeds))}")
    mutants, errata = [], []
    if args.mutants:
        only = {x.strip() for x in args.only.split(",") if x.strip()} or None

        def show(record):
            mark = "killed" if record["killed"] else "SURVIVED"
            diagnosis = "" if record["expected_diagnosis"] is None else \
                f", diagnosis {record['diagnosis_kind']} {record['fix']!r}" + ("" if record["diagnosed_as_expected"] else
                                                                            f" (EXPECTED {record['expected_fix']!r})")
            ratio = f"{record['ratio']:.3g} x tolerance" if record["ratio"] is not None else record["kind"] or "-"
            _say(f"  {record['id']} [{record['dtype']}]: {mark} ({ratio}){diagnosis}" +
                 ("" if record["killed"] and record["diagnosed_as_expected"] is not False else
                  f"\n    reproduce: {record['reproduce']}"))

        mutants = mutant_records(dtypes, args.examples, args.seed, only, progress=show)
        errata = catalog_erratum_records(dtypes, args.examples, args.seed, only)
        for record in errata:
            show(record)
    report = summary(mutants, errata, soak_summary)
    from backprop_audit.trust.power import power_table

    report["power"] = power_table()
    report["soak_seeds"] = seeds if args.checks else []
    for row in report["power"]:
        _say(f"power: {row['widths']} batch {row['batch']} {row['dtype']}: detects a relative error of "
             f"{row['smallest_relative_error_detected']:.2g}")
    report["commit"], report["generated"] = _commit(), time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if args.keep_soak and not args.checks:
        kept = _kept_soak(Path(args.out) / "trust.json")
        if kept is None:
            print(f"backprop-audit soak: --keep-soak: no soak in {Path(args.out) / 'trust.json'}", file=sys.stderr)
            return 2
        report.update(kept)
        if report.get("smallest_erratum_ratio") and report.get("worst_correct_ratio"):
            report["margin"] = report["smallest_erratum_ratio"] / report["worst_correct_ratio"]
    report["settings"] = {"checks": args.checks, "large": args.large, "seed": args.seed, "seeds": seeds, "mutants": args.mutants,
                          "examples_per_mutant": args.examples, "dtypes": list(dtypes),
                          "oracles": oracles, "missing_oracles": references.missing()}
    path = write_trust(report, Path(args.out))
    if args.mutants:
        _say(f"mutants: {report['mutants_killed']} of {report['mutants']} killed "
             f"({report['mutant_checks_killed']} of {report['mutant_checks']} searches over {', '.join(dtypes)}); "
             f"{report['diagnosed_as_expected']} of {report['diagnosis_expected']} expected diagnoses given; "
             f"catalog errata found {report['catalog_errata_found']} of {report['catalog_errata']}; smallest erratum "
             f"ratio {report['smallest_erratum_ratio']} ({report['smallest_erratum']})")
    if report.get("margin"):
        _say(f"margin: smallest erratum ratio / worst correct ratio = {report['margin']:.3g}")
    _say(f"wrote {path}")
    bad = (soak_summary and soak_summary["soak_false_alarms"]) or report["mutants_survived"] or report["misdiagnosed"] \
        or report["catalog_errata_found"] < report["catalog_errata"]
    return 1 if bad else 0
