"""A user's own pytest session: their test file (tests/users/user_formulas.py) in a project of its own,
pytest with plugin autoload on as in any user's project, so the `pytest11` entry point loads
backprop_audit.pytest_plugin. Run in this process (pytester) for speed; Hypothesis's global state that
the inner session's options set (the loaded profile, --hypothesis-seed) is put back afterwards."""
import re
from pathlib import Path

import pytest

USER_FILE = Path(__file__).parent / "users" / "user_formulas.py"
# A profile of the user's own; a new profile inherits the loaded one's settings, here this suite's (ci is
# derandomized), so it says derandomize=False as a user's random-seeded profile would have it.
SMALL_PROFILE = '''
from hypothesis import settings
settings.register_profile("small", max_examples=12, derandomize=False)
'''
# pytest-benchmark, installed here, warns in the inner session that xdist (this suite's) is active.
QUIET = ("-p", "no:benchmark")
# A fresh interpreter with plugin autoload on rewrites the asserts of every module of every plugin's
# distribution (Hypothesis's, backprop_audit's, ...; never cached under PYTHONDONTWRITEBYTECODE): ~0.8 s of
# CPU a run here, for assert messages these one-line inner tests do not need.
FRESH = QUIET + ("--assert=plain",)


@pytest.fixture
def user_project(pytester, monkeypatch):
    """A project holding the user's test file and a conftest registering a Hypothesis profile "small"."""
    from hypothesis import core, settings

    profile = settings.get_current_profile_name()
    monkeypatch.setattr(core, "global_force_seed", core.global_force_seed)
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pytester.makepyfile(test_my_formulas=USER_FILE.read_text())
    pytester.makeconftest(SMALL_PROFILE)
    yield pytester
    settings.load_profile(profile)


def test_a_users_file_gives_one_pass_one_failure_saying_what_is_wrong(user_project):
    done = user_project.runpytest_inprocess(*QUIET, "--hypothesis-profile=small")
    done.assert_outcomes(passed=1, failed=1)
    out = done.stdout.str()
    assert "backprop-audit " in out and "12 networks per formula and dtype where a call gives no examples= (hypothesis profile 'small')" in out
    assert "formula 'sum' does not hold: fails in float64" in out
    assert "holds when multiplied by 1/N" in out and "fix 'x 1/N'" in out
    assert "W[1] = " in out and "X = " in out and "manual = " in out and "torch  = " in out and "jax    = " in out
    assert "reproduce: assert_holds(<formula 'sum'>, seed=" in out and "examples=12" in out


def test_hypothesis_seed_steers_the_checks(user_project):
    done = user_project.runpytest_inprocess(*QUIET, "--hypothesis-profile=small", "--hypothesis-seed=4321",
                                            "-k", "without_the_mean")
    done.assert_outcomes(failed=1)
    out = done.stdout.str()
    assert "seed 4321 (--hypothesis-seed)" in out  # the header
    assert "reproduce: assert_holds(<formula 'sum'>, seed=4321, examples=12, dtypes=('float64',))" in out


def test_hypothesis_statistics_show_the_checks_runs(user_project):
    done = user_project.runpytest_inprocess(*QUIET, "--hypothesis-profile=small", "--hypothesis-show-statistics",
                                            "-k", "test_weight_gradient and not without")
    done.assert_outcomes(passed=1)
    out = done.stdout.str()
    assert "test_my_formulas.py::test_weight_gradient (backprop-audit: " in out
    # Hypothesis's own statistics block: "N passing examples" (6.155) or "N passing, 0 failing" (6.170)
    assert re.search(r"\d+ passing", out), out


def test_a_session_that_never_uses_backprop_audit_never_imports_torch_or_jax(user_project):
    user_project.makepyfile(test_my_formulas="import sys\n\ndef test_plain():\n"
                                             "    assert 'torch' not in sys.modules and 'jax' not in sys.modules\n")
    done = user_project.runpytest_subprocess(*FRESH)
    done.assert_outcomes(passed=1)
    plugins = next(line for line in done.stdout.lines if line.startswith("plugins:"))  # loaded, not used
    assert "backprop-audit-" in plugins  # pytest lists plugins in the order it loads them: any place


def test_a_session_using_backprop_audit_starts_the_frameworks_before_its_tests(user_project):
    user_project.makepyfile(test_my_formulas="import sys\nfrom backprop_audit import Setting\n\ndef test_started():\n"
                                             "    import jax, torch\n"
                                             "    assert jax.config.jax_enable_x64 and torch.get_num_threads() == 1\n")
    user_project.runpytest_subprocess(*FRESH).assert_outcomes(passed=1)
