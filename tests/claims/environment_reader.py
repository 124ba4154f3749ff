"""Fixture for tests/test_check_command.py: a correct claim that prints an environment variable, so a test
can see which environment its worker ran in (a zygote shared by two runs hands each worker the caller's
environment as it is at that run)."""
import os

from backprop_audit import Formula, Setting, Source

SOURCE = Source("fixture", "environment_reader.py", "a claim that prints PYTEST_CURRENT_TEST")
SETTING = Setting(hidden=("tanh",), output=("identity",), loss=("half_sum_sq",), depth=(1, 1))


def output_delta(v):
    print("environment:", os.environ.get("PYTEST_CURRENT_TEST"))
    return v.a[v.L] - v.y


CLAIMS = [Formula(id="environment-reader", title="environment reader", source=SOURCE, written="-",
                  convention="column", quantity="dC/dz[L]", setting=SETTING, compute=output_delta)]
