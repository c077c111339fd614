"""/metrics under gunicorn with two workers (docker/gunicorn.conf.py): the fleet's counts, whichever
worker answers the scrape, and an exposition in which `promtool check metrics` finds nothing but
the lints of the seed's documented gauges."""

import re
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.monitoring.conftest import SEED_LINTS, promtool_problems
from tests.processes import ROOT, free_port, prepare, project_env, running

pytestmark = pytest.mark.processes

N = 40
SEED = """
import os
from routing.services import instance_add, service_type_update
service_type_update(name="chat", actor=None, load_balancer="round_robin")
instance_add(actor=None, service_type="chat", name="fake-chat", base_url=os.environ["UPSTREAM"])
from authjwt.services import api_key_create
print("API_KEY=" + api_key_create(name="metrics test")[1])
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    metrics_dir = tmp_path_factory.mktemp("prometheus")
    (metrics_dir / "stale_counter.db").write_bytes(b"left over by a previous run")
    upstream_port, port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}"
    env = project_env(
        DJANGO_SETTINGS_MODULE="routerproject.settings.embedded",
        DATABASE_URL=None,
        ROUTER_VAR_DIR=str(var),
        STATE_KEY_PREFIX=f"test-metrics-{uuid.uuid4().hex}:",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="2",
        UPSTREAM=upstream,
    )
    seeded = prepare(env, ["migrate", "--noinput"], script=SEED)
    api_key = seeded.stdout.split("API_KEY=", 1)[1].split()[0]
    gunicorn = [
        sys.executable, "-m", "gunicorn", "routerproject.asgi:application",
        "-c", str(ROOT / "docker" / "gunicorn.conf.py"),
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with (
        running(
            [sys.executable, "-m", "routing.fakeupstream", "--port", str(upstream_port)],
            env={k: v for k, v in env.items() if k != "WEB_CONCURRENCY"},
            ready_url=f"{upstream}/health",
        ),
        running(gunicorn, env=env, ready_url=f"{url}/health"),
    ):
        yield url, api_key, metrics_dir


def counted(text: str) -> float:
    pattern = re.compile(r"^jairouter_requests_total\{([^}]*)\} (\S+)$")
    total = 0.0
    for line in text.splitlines():
        match = pattern.match(line)
        if match and 'model="fake-chat"' in match.group(1) and 'status="200"' in match.group(1):
            total += float(match.group(2))
    return total


def test_n_requests_over_two_workers_are_n_in_metrics(fleet):
    url, api_key, metrics_dir = fleet
    assert not (metrics_dir / "stale_counter.db").exists(), "on_starting empties the directory"

    def send(_: int) -> int:
        # A new connection each time, so both workers take requests.
        return httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "fake-chat", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {api_key}", "Connection": "close"},
            timeout=30,
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(send, range(N)))
    assert statuses == [200] * N
    pids = {path.name.rsplit("_", 1)[-1] for path in metrics_dir.glob("counter_*.db")}
    assert len(pids) >= 2, pids
    for _ in range(6):  # whichever worker answers, the count is the fleet's
        text = httpx.get(f"{url}/metrics", headers={"Connection": "close"}).text
        assert counted(text) == N
    assert "jairouter_tokens_total" in text and "tiny_dancer_requests_total" in text


def test_promtool_reports_nothing_but_the_seed_gauges_unit_lints(fleet):
    url, _, _ = fleet
    assert promtool_problems(httpx.get(f"{url}/metrics").content) == SEED_LINTS
