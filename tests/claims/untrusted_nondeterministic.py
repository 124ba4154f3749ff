"""Fixture for tests/test_check_isolation.py: formulas whose answer depends on the call, not the network:
one returns twice the right value on every third call, one raises on every third call. Each is the error
"nondeterministic formula", whichever call the batched check and the single check met."""
from itertools import count

from backprop_audit import Formula, Setting, Source

SOURCE = Source("fixture", "untrusted_nondeterministic.py", "formulas that answer differently each call")
SETTING = Setting(hidden=("tanh",), output=("identity",), loss=("half_sum_sq",), depth=(1, 2))


def claim(id, compute):
    return Formula(id=id, title=id, source=SOURCE, written="-", convention="column", quantity="dC/dz[L]",
                   setting=SETTING, compute=compute)


def output_error(v):
    return v.a[v.L] - v.y


def sometimes_doubled():
    calls = count()
    return lambda v: output_error(v) * (2 if next(calls) % 3 == 1 else 1)


def sometimes_raises():
    calls = count()

    def compute(v):
        if next(calls) % 3 == 1:
            raise ValueError("every third call")
        return output_error(v)
    return compute


CLAIMS = [
    claim("nondeterministic-correct-before", output_error),
    claim("nondeterministic-doubled-sometimes", sometimes_doubled()),
    claim("nondeterministic-raises-sometimes", sometimes_raises()),
    claim("nondeterministic-correct-after", output_error),
]
