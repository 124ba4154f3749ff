"""Fixture for tests/test_check_isolation.py: claims that end or hang their worker process: os._exit(0),
a crash of native code (SIGSEGV), and a loop whose bare `except:` swallows the time-limit exception.
Each is that claim's error (the watchdog kills the hung one); a new worker checks the claims after it."""
import os
import signal
import time

from backprop_audit import Formula, Setting, Source

SOURCE = Source("fixture", "untrusted_crashes.py", "claims that kill or hang their process")
SETTING = Setting(hidden=("tanh",), output=("identity",), loss=("half_sum_sq",), depth=(1, 2))


def claim(id, compute):
    return Formula(id=id, title=id, source=SOURCE, written="-", convention="column", quantity="dC/dz[L]",
                   setting=SETTING, compute=compute)


def output_error(v):
    return v.a[v.L] - v.y


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
