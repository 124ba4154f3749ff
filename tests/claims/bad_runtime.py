"""Fixture for tests/test_check_command.py: well-formed claims that go wrong when they run. Each is
verdict "error" with a message saying what went wrong; the claims after them are still checked."""
import time

import numpy as np

from backprop_audit import Formula, Setting, Source

SOURCE = Source("fixture", "bad_runtime.py", "claims that break at run time")
IDENTITY_HALF_SQ = Setting(hidden=("tanh",), output=("identity",), loss=("half_sum_sq",), depth=(1, 2))


def claim(id, compute):
    return Formula(id=id, title=id, source=SOURCE, written="-", convention="column", quantity="dC/dz[L]",
                   setting=IDENTITY_HALF_SQ, compute=compute)


def never_finishes(v):
    while True:
        time.sleep(1)


CLAIMS = [
    claim("runtime-raises", lambda v: v.a[v.L + 1] - v.y),  # one layer past the output
    claim("runtime-wrong-shape", lambda v: np.zeros((v.sizes[-1] + 1, v.N))),
    claim("runtime-wrong-dtype", lambda v: (v.a[v.L] - v.y).astype(np.float32)),
    claim("runtime-nan", lambda v: np.full_like(v.a[v.L], np.nan)),
    claim("runtime-too-long", never_finishes),
    claim("runtime-valid", lambda v: v.a[v.L] - v.y),
]
