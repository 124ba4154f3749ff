"""`backprop-audit bench`: measure how fast the engine checks and write reports/bench.json."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_parser(commands):
    parser = commands.add_parser("bench", help="measure checking speed; write reports/bench.json",
                                 description="Measure how fast checks run on this machine (a search end to end, "
                                             "the sweep, wide networks, against torch.autograd.gradcheck) and "
                                             "write bench.json. Exit codes: 0 written; 2 bad options.")
    parser.add_argument("--examples", type=int, default=300, help="networks per formula search (default 300)")
    parser.add_argument("--sweep", type=int, default=20000, help="networks in the sweep (default 20000)")
    parser.add_argument("--no-scale", action="store_true", help="skip the wide-network check")
    parser.add_argument("--no-gradcheck", action="store_true", help="skip the torch gradcheck comparison")
    parser.add_argument("--out", default="reports", help="folder for bench.json (default reports/)")
    parser.set_defaults(handler=command_bench)
    return parser


def command_bench(args) -> int:
    from backprop_audit.trust.bench import run_bench
    from backprop_audit.reports.write import write_atomically

    if args.examples < 1 or args.sweep < 1:
        print("backprop-audit bench: --examples and --sweep must be at least 1", file=sys.stderr)
        return 2
    report = run_bench(examples=args.examples, sweep_networks=args.sweep, scale=not args.no_scale,
                       gradcheck=not args.no_gradcheck)
    out = Path(args.out) / "bench.json"
    write_atomically(out, json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0
