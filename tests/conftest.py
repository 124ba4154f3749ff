"""pytest setup: one torch thread per process, float64 JAX, and the Hypothesis profile (dev/ci/nightly)."""
import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

from backprop_audit import profiles  # noqa: E402

PROFILE = profiles.load()


def pytest_report_header(config):
    return f"hypothesis profile: {PROFILE} ({profiles.examples_per_formula()} networks per formula and dtype)"
