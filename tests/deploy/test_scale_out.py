"""Scaling out: two hosts (gunicorn, two uvicorn workers each) and a Celery worker on one PostgreSQL
database and one Redis prefix behave as one gateway. Configuration, rate limits, breakers, JWT
revocation and job results are the fleet's; metrics are each host's own."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings

from routing.resilience.breaker import BreakerState
from tests.backends import postgres_url, redis_url
from tests.deploy.fleet import BEHIND_TLS, scaled_out_fleet, services_pass_problem

pytestmark = [pytest.mark.processes, pytest.mark.postgres, pytest.mark.redis]

LIMIT = 12
SERVED_WITHIN = 1.0  # seconds from a configuration change to every worker serving it
BREAKER = {"enabled": True, "failureThreshold": 2, "recoveryTimeout": 60000, "successThreshold": 1}


def plan(upstream: str, failing: str, dead: str) -> dict:
    # Retries off: an answer shows which instance was tried, not the one that rescued it.
    chat = {
        "name": "chat",
        "load_balancer": "round_robin",
        "retries": 0,
        "circuit_breaker": BREAKER,
    }
    # A refill so slow that no token comes back during the test: exactly LIMIT admissions.
    limit = {"algorithm": "token_bucket", "capacity": LIMIT, "refillRate": 0.0001}
    return {
        "services": [chat, {"name": "embedding", "rate_limit": limit}],
        "instances": [
            {"service_type": "chat", "name": "fake-chat", "base_url": upstream},
            {"service_type": "chat", "name": "mixed", "base_url": upstream},
            # The failing upstream is asked for a 500 on every request (and health probe).
            {
                "service_type": "chat",
                "name": "mixed",
                "base_url": failing,
                "headers": {"x-fake-status": "500"},
            },
            {"service_type": "chat", "name": "probed", "base_url": upstream},
            # No breaker here: only the health probe can keep requests away from it.
            {
                "service_type": "chat",
                "name": "probed",
                "base_url": dead,
                "circuit_breaker": {"enabled": False},
            },
            {"service_type": "embedding", "name": "fake-embed", "base_url": upstream},
        ],
    }


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    engine = settings.DATABASES["default"]["ENGINE"]
    problem = services_pass_problem(engine, settings.STATE_BACKEND)
    if problem:
        pytest.skip(problem)
    with scaled_out_fleet(
        tmp_path_factory.mktemp("scale-out"),
        plan,
        postgres_url=postgres_url(),
        redis_url=redis_url(),
    ) as running_fleet:
        yield running_fleet


@pytest.fixture(scope="module")
def staff_token(fleet) -> str:
    return fleet.login(fleet.hosts[0])["token"]


def test_a_change_through_host_1_is_served_by_host_2_within_a_second(fleet, staff_token):
    host_1, host_2 = fleet.hosts
    assert fleet.chat(host_2, "fresh-chat").status_code == 404

    added = httpx.post(
        f"{host_1.url}/api/config/instance/add/chat",
        json={"name": "fresh-chat", "baseUrl": fleet.upstream.url, "adapter": "openai"},
        headers={"authorization": f"Bearer {staff_token}", **BEHIND_TLS},
        timeout=10,
    )
    assert added.status_code == 201, added.text
    changed = time.monotonic()
    # Fresh connections land on either worker of host 2; each worker re-reads the configuration
    # generation at most every 0.5 s, so the last stale answer must come within the second.
    answers: list[tuple[float, int]] = []
    # Until the second is over and 10 more requests (whichever worker takes them) have answered.
    while sum(sent >= SERVED_WITHIN for sent, _ in answers) < 10:
        sent = time.monotonic() - changed
        answers.append((sent, fleet.chat(host_2, "fresh-chat").status_code))
    assert {status for _, status in answers} <= {200, 404}
    first_served = min(sent for sent, status in answers if status == 200)
    last_stale = max((sent for sent, status in answers if status == 404), default=0.0)
    print(
        f"host 2: first served {first_served * 1000:.0f} ms, last stale {last_stale * 1000:.0f} ms"
    )
    assert last_stale < SERVED_WITHIN


async def _burst(fleet, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    headers = {"authorization": f"Bearer {fleet.api_key}"}
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=30) as client:
        return await asyncio.gather(
            *(
                client.post(
                    f"{fleet.hosts[i % 2].url}/v1/embeddings",
                    json={"model": "fake-embed", "input": "x"},
                )
                for i in range(count)
            )
        )


def test_a_rate_limit_holds_exactly_across_both_hosts(fleet):
    before = fleet.upstream.stats()["requests"]
    responses = asyncio.run(_burst(fleet, 3 * LIMIT))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == LIMIT, statuses
    assert statuses.count(429) == 2 * LIMIT
    assert fleet.upstream.stats()["requests"] - before == LIMIT
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"


def test_a_breaker_opened_by_failures_on_host_1_keeps_host_2_away(fleet):
    host_1, host_2 = fleet.hosts
    failing_id = f"mixed@{fleet.failing.url}"
    healthy_id = f"mixed@{fleet.upstream.url}"
    statuses = []
    # Round robin alternates the two instances: the threshold is reached within twice its count.
    while fleet.breaker(failing_id).state is not BreakerState.OPEN:
        assert len(statuses) < 4, statuses
        statuses.append(fleet.chat(host_1, "mixed").status_code)
    assert statuses.count(500) == BREAKER["failureThreshold"]
    assert fleet.health(failing_id) is None  # kept out by its breaker, not by a probe

    sent_to_failing = fleet.failing.stats()["requests"]
    answers = [fleet.chat(host_2, "mixed") for _ in range(8)]
    assert [a.status_code for a in answers] == [200] * 8
    assert {a.headers["x-router-instance"] for a in answers} == {healthy_id}
    assert fleet.failing.stats()["requests"] == sent_to_failing


def _tokens(host, token: str) -> int:
    return httpx.get(
        f"{host.url}/api/auth/jwt/tokens",
        headers={"authorization": f"Bearer {token}", "connection": "close", **BEHIND_TLS},
        timeout=10,
    ).status_code


def test_a_jwt_revoked_through_host_1_is_refused_by_both_hosts(fleet, staff_token):
    host_1, host_2 = fleet.hosts
    victim = fleet.login(host_2)  # issued by host 2, revoked through host 1
    assert [_tokens(host_1, victim["token"]), _tokens(host_2, victim["token"])] == [200, 200]

    revoked = httpx.post(
        f"{host_1.url}/api/auth/jwt/tokens/{victim['tokenId']}/revoke",
        json={"reason": "scale-out test"},
        headers={"authorization": f"Bearer {staff_token}", **BEHIND_TLS},
        timeout=10,
    )
    assert revoked.status_code == 200, revoked.text

    assert _tokens(host_2, victim["token"]) == 401
    assert _tokens(host_1, victim["token"]) == 401
    assert _tokens(host_2, staff_token) == 200  # another session is untouched


def test_metrics_on_each_host_count_exactly_that_hosts_requests(fleet):
    sent = {fleet.hosts[0].name: 14, fleet.hosts[1].name: 22}
    before = {host.name: host.scraped_requests() for host in fleet.hosts}
    targets = [host for host in fleet.hosts for _ in range(sent[host.name])]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda host: fleet.chat(host, "fake-chat").status_code, targets))
    assert statuses == [200] * len(targets)

    for host in fleet.hosts:
        scraped = host.scraped_requests()
        assert scraped - before[host.name] == sent[host.name]
        per_worker = host.recorded_requests_per_worker()
        # The host's figure is the sum over its own workers, all of which served requests.
        assert set(per_worker) == host.worker_pids(), (per_worker, host.worker_pids())
        assert all(count > 0 for count in per_worker.values())
        assert sum(per_worker.values()) == scraped


def test_a_probe_run_by_the_celery_worker_changes_what_both_hosts_do(fleet):
    dead_id, alive_id = f"probed@{fleet.dead}", f"probed@{fleet.upstream.url}"
    # Before the probe, round robin sends every other request to the dead instance.
    before = [fleet.chat(host, "probed").status_code for host in fleet.hosts]
    assert sorted(before) == [200, 502]
    assert fleet.health(dead_id) is None

    outcome = fleet.run_job("routing.probe_instances")
    assert outcome["unhealthy"] == 2  # the dead instance and the one asking for 500s
    assert fleet.health(dead_id) == "unhealthy"
    assert fleet.health(alive_id) == "healthy"

    for host in fleet.hosts:
        answers = [fleet.chat(host, "probed") for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 6, host.name
        assert {a.headers["x-router-instance"] for a in answers} == {alive_id}
    assert fleet.breaker(dead_id).state is BreakerState.CLOSED


def _settled_history_sample(fleet, deadline: float) -> dict:
    """Run the history job until its totals stay the same for over two flush intervals of the
    workers (0.2 s each): then no counts are in transit."""
    sample = fleet.run_job("monitoring.record_traffic_sample")
    unchanged_since = time.monotonic()
    while time.monotonic() < deadline:
        latest = fleet.run_job("monitoring.record_traffic_sample")
        if latest["requests"] != sample["requests"]:
            unchanged_since = time.monotonic()
        elif time.monotonic() - unchanged_since > 0.5:
            return latest
        sample = latest
    raise AssertionError("the traffic totals never settled")


def test_the_history_job_on_the_celery_worker_counts_both_hosts_requests(fleet):
    # The worker process serves nothing itself: only what the hosts hand over can be counted.
    deadline = time.monotonic() + 20
    first = _settled_history_sample(fleet, deadline)
    for host in fleet.hosts:
        assert [fleet.chat(host, "fake-chat").status_code for _ in range(5)] == [200] * 5
    while time.monotonic() < deadline:
        latest = fleet.run_job("monitoring.record_traffic_sample")
        if latest["requests"] - first["requests"] >= 10:
            break
    latest = _settled_history_sample(fleet, deadline)
    assert latest["requests"] - first["requests"] == 10
    assert latest["errors"] == first["errors"]
    assert latest["latency"][-1] - first["latency"][-1] == 10  # +Inf: every request, once
