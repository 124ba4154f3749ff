"""Fixture for tests/test_check_command.py: a claims file whose import fails (line 4)."""
from backprop_audit import Formula, Setting, Source

from user_network import backprop_that_does_not_exist  # noqa: F401

CLAIMS = []
