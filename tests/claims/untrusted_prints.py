"""Fixture for tests/test_check_isolation.py: a claim that prints (Python's print, stderr, and a write to
file descriptor 1 as C code would), much more than a report should hold. Its output is captured, cut to
a few KB and shown in its section; none of it reaches the command's own stdout."""
import os
import sys

from backprop_audit import Formula, Setting, Source

SOURCE = Source("fixture", "untrusted_prints.py", "a claim that prints")
SETTING = Setting(hidden=("tanh",), output=("identity",), loss=("half_sum_sq",), depth=(1, 2))


def talkative(v):
    print("talkative: checking a network", "x" * 2000)
    print("talkative: on stderr", file=sys.stderr)
    os.write(1, b"talkative: written to fd 1\n")
    return v.a[v.L] - v.y


def quiet(v):
    return v.a[v.L] - v.y


CLAIMS = [Formula(id=id, title=id, source=SOURCE, written="-", convention="column", quantity="dC/dz[L]",
                  setting=SETTING, compute=compute)
          for id, compute in [("prints-talkative", talkative), ("prints-quiet", quiet)]]
