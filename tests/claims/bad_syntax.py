"""Fixture for tests/test_check_command.py: a claims file with a syntax error (line 7: no colon)."""
from backprop_audit import Formula, Setting, Source

SOURCE = Source("fixture", "bad_syntax.py", "a syntax error")


def output_error(v)
    return v.a[v.L] - v.y


CLAIMS = []
