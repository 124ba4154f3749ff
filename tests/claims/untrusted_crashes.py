"""Fixture for tests/test_check_isolation.py: claims that end or hang their worker process: os._exit(0),
a crash of native code (SIGSEGV), and a loop whose bare `except:` swallows the time-limit exception.
Each is that claim's error (the watchdog kills the hung one); a new worker checks the claims after it."""
import os
import signal
import time

from backprop_audit import Source
from untrusted_common import claim as shared_claim, output_error

SOURCE = Source("fixture", "untrusted_crashes.py", "claims that kill or hang their process")


def claim(id, compute):
    return shared_claim(id, compute, SOURCE)


def exits_at_once(v):
    print("about to leave")
    os._exit(0)


def crashes(v):
    os.kill(os.getpid(), signal.SIGSEGV)


def swallows_the_time_limit(v):
    while True:
        try:
            time.sleep(0.05)
        except:  # noqa: E722  (the point of the fixture)
            pass


CLAIMS = [
    claim("crash-correct-before", output_error),
    claim("crash-os-exit", exits_at_once),
    claim("crash-correct-between", output_error),
    claim("crash-segfault", crashes),
    claim("crash-swallows-time-limit", swallows_the_time_limit),
    claim("crash-correct-after", output_error),
]
