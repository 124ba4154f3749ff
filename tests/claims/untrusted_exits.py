"""Fixture for tests/test_check_isolation.py: claims whose code raises a BaseException (what sys.exit()
raises, a KeyboardInterrupt of its own, a GeneratorExit), between correct claims. Each is that claim's
error; the run goes on, and the correct claims hold."""
import sys

from backprop_audit import Formula, Setting, Source

SOURCE = Source("fixture", "untrusted_exits.py", "claims that try to end the run")
SETTING = Setting(hidden=("tanh",), output=("identity",), loss=("half_sum_sq",), depth=(1, 2))


def claim(id, compute):
    return Formula(id=id, title=id, source=SOURCE, written="-", convention="column", quantity="dC/dz[L]",
                   setting=SETTING, compute=compute)


def output_error(v):
    return v.a[v.L] - v.y


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
