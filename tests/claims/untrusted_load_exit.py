"""Fixture for tests/test_check_isolation.py: a claims file that ends its process while it loads. It is
that file's input error; the other files' claims are checked."""
import os

os._exit(0)
