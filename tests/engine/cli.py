"""The `backprop-audit` command. Each subcommand lives in its own module command_<name>.py, which
provides add_parser(subparsers); its handler returns the exit code (0 ok, 1 a verdict differs from
its expectation, 2 usage or input error)."""
from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = ("report", "soak")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="backprop-audit", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"backprop_audit.command_{name}").add_parser(commands)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
