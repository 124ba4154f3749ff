"""`python -m backprop_audit` is the `backprop-audit` command."""
import sys

from backprop_audit.commands.cli import run

sys.exit(run())
