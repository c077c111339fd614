import os
import sys
import uuid
from collections.abc import Iterator

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from routerproject.state import MemoryState, RedisState, get_state
from tests.backends import (
    RAN_IN_VARIABLE,
    postgres_problem,
    postgres_url,
    redis_problem,
    redis_url,
)
from tests.processes import free_port, project_env, running
from tests.redis_topologies import SentinelSet, redis_cluster, redis_sentinel, topology_problem


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests whose processes choose their own backends give the same answer in every backend pass:
    when the runner says another pass runs them, they are skipped here, with that reason."""
    ran_in = os.environ.get(RAN_IN_VARIABLE)
    if not ran_in:
        return
    reason = (
        f"pass-independent (its processes choose their own backends): runs in the {ran_in} pass"
    )
    for item in items:
        if item.get_closest_marker("pass_independent"):
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_report_header(config: pytest.Config) -> list[str]:
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return [f"backends: database={engine} state={settings.STATE_BACKEND}"]


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    """A Redis server to test against directly; skips with the reason when none answers."""
    problem = redis_problem()
    if problem:
        pytest.skip(problem)
    return redis_url()


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    problem = postgres_problem()
    if problem:
        pytest.skip(problem)
    return postgres_url()


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory) -> Iterator[str]:
    """A Redis Cluster of three primaries started for the session (redis+cluster://)."""
    problem = topology_problem()
    if problem:
        pytest.skip(problem)
    with redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as url:
        yield url


@pytest.fixture(scope="session")
def redis_sentinel_set(tmp_path_factory) -> Iterator[SentinelSet]:
    """A primary, a replica and a Sentinel started for the session (redis+sentinel://)."""
    problem = topology_problem()
    if problem:
        pytest.skip(problem)
    with redis_sentinel(tmp_path_factory.mktemp("redis-sentinel")) as sentinel:
        yield sentinel


_STATE_URLS = {
    "redis": "redis_server_url",
    "cluster": "redis_cluster_url",
    "sentinel": lambda request: request.getfixturevalue("redis_sentinel_set").url,
}


@pytest.fixture(params=["memory", "redis", "cluster", "sentinel"])
def state(request):
    """Each shared-state backend in turn: memory, then Redis under its own prefix on one server, a
    Redis Cluster and a primary behind Sentinel (each skipped with the reason when absent)."""
    if request.param == "memory":
        yield MemoryState()
        return
    source = _STATE_URLS[request.param]
    url = source(request) if callable(source) else request.getfixturevalue(source)
    redis_state = RedisState(url, prefix=f"test-{uuid.uuid4().hex}:")
    yield redis_state
    redis_state.clear()


@pytest.fixture(scope="module")
def upstream():
    """The simulated backend as a real HTTP server."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "routing.fakeupstream", "--port", str(port)]
    with running(command, env=project_env(), ready_url=f"{url}/health"):
        yield url


@pytest.fixture(autouse=True)
def _sign_in_window_held(monkeypatch):
    """The sign-in throttle counts in wall-clock minutes: attempts of one test that straddled the
    end of a minute would start counting again halfway (a race with the clock). In-process tests
    count in one fixed window, mid-minute; a test that moves the clock patches it again."""
    from authjwt import throttles

    held = 1_000_000 * throttles.WINDOW_SECONDS + throttles.WINDOW_SECONDS / 2
    monkeypatch.setattr(throttles, "clock", lambda: held)


@pytest.fixture(autouse=True)
def _fresh_shared_state():
    yield
    get_state().clear()


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="operator", password="operator-pass-123", is_staff=True
    )


@pytest.fixture
def reader_user(django_user_model):
    return django_user_model.objects.create_user(username="reader", password="reader-pass-123")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def staff_client(staff_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


@pytest.fixture
def reader_client(reader_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(reader_user)
    return client
