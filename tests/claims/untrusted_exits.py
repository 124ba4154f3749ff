"""Fixture for tests/test_check_isolation.py: claims whose code raises a BaseException (what sys.exit()
raises, a KeyboardInterrupt of its own, a GeneratorExit), between correct claims. Each is that claim's
error; the run goes on, and the correct claims hold."""
import sys

from backprop_audit import Source
from untrusted_common import claim as shared_claim, output_error

SOURCE = Source("fixture", "untrusted_exits.py", "claims that try to end the run")


def claim(id, compute):
    return shared_claim(id, compute, SOURCE)


def exits(code):
    def compute(v):
        sys.exit(code)
    return compute


def raises(kind):
    def compute(v):
        raise kind()
    return compute


CLAIMS = [
    claim("exits-correct-before", output_error),
    claim("exits-sys-exit-0", exits(0)),
    claim("exits-sys-exit-3", exits(3)),
    claim("exits-raise-system-exit", raises(SystemExit)),
    claim("exits-keyboard-interrupt", raises(KeyboardInterrupt)),
    claim("exits-generator-exit", raises(GeneratorExit)),
    claim("exits-correct-after", output_error),
]
