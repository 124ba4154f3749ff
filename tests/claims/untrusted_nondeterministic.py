"""Fixture for tests/test_check_isolation.py: formulas whose answer depends on the call, not the network:
one returns twice the right value on every third call, one raises on every third call. Each is the error
"nondeterministic formula", whichever call the batched check and the single check met."""
from itertools import count

from backprop_audit import Source
from untrusted_common import claim as shared_claim, output_error

SOURCE = Source("fixture", "untrusted_nondeterministic.py", "formulas that answer differently each call")


def claim(id, compute):
    return shared_claim(id, compute, SOURCE)


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
