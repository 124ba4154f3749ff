"""The suite's tests marked xdist_group really run on one worker under `-n` (tests/conftest.py): a worker
adds the group to the id of each test it collects only when its own command line says loadgroup."""
import pytest

pytestmark = pytest.mark.xdist_group("xdist-groups")


def test_a_worker_groups_and_a_session_without_workers_would(request):
    config = request.config
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: xdist set loadgroup from its parsed arguments
        assert config.option.loadgroup, "this worker ignores xdist_group: is --dist loadgroup in addopts?"
        assert request.node.nodeid.endswith("@xdist-groups"), request.node.nodeid
    else:
        assert config.getoption("dist") == "loadgroup", config.getoption("dist")
