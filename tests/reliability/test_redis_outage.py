"""Redis stopped while traffic flows: two gunicorn workers on a private Redis and real PostgreSQL.

/v1 keeps answering (limits and breakers fail open, each worker balances on its own), /api keeps
answering from PostgreSQL, tokens revoked before and during the outage stay refused by every worker,
and once Redis is back the fleet shares its limits and breakers again. A frozen Redis (SIGSTOP)
costs a request at most one socket timeout, not one per shared-state call.
"""

import math
import os
import signal
import time

import httpx
import pytest

from routerproject.state import RedisState
from routerproject.state.outage import OUTAGE_RETRY_SECONDS
from routing.resilience import breaker
from routing.resilience.shared_breakers import breaker_key
from tests.processes import bytes_read
from tests.reliability.stack import Gateway, Traffic, gateway

pytestmark = [pytest.mark.processes, pytest.mark.redis, pytest.mark.postgres]

LIMIT = 12
BREAKER = {"enabled": True, "failureThreshold": 3, "recoveryTimeout": 60000, "successThreshold": 1}
SOCKET_TIMEOUT = 2.0  # RedisState's default
FROZEN_ANSWERS = 30


def plan(upstream: str) -> dict:
    # No token comes back during the test: a limiter shared by the fleet admits exactly LIMIT.
    limit = {"algorithm": "token_bucket", "capacity": LIMIT, "refillRate": 0.0001}
    return {
        "services": [
            {"name": "chat", "load_balancer": "least_connections", "circuit_breaker": BREAKER},
            {"name": "embedding", "rate_limit": limit},
        ],
        "instances": [
            {"service_type": "chat", "name": "fake-chat", "base_url": upstream},
            {"service_type": "chat", "name": "fake-chat", "base_url": upstream + "/v1"},
            {"service_type": "chat", "name": "flaky", "base_url": upstream},
            {"service_type": "embedding", "name": "fake-embed", "base_url": upstream},
        ],
    }


def embeddings(gw: Gateway, count: int) -> list[int]:
    statuses = []
    for _ in range(count):
        with httpx.Client(base_url=gw.url, timeout=15) as client:
            statuses.append(
                client.post(
                    "/v1/embeddings",
                    json={"model": "fake-embed", "input": "x"},
                    headers={"Authorization": f"Bearer {gw.api_key}"},
                ).status_code
            )
    return statuses


def assert_revocations_hold(gw: Gateway, revoked: list[dict], operator: dict) -> None:
    """Every revoked token is refused by every worker; the operator's session still works."""
    workers = gw.workers()
    before = {pid: bytes_read(pid) for pid in workers}
    for _ in range(8):
        for session in revoked:
            answer = gw.api("GET", "/api/auth/jwt/tokens", session["token"])
            assert answer.status_code == 401, answer.text
            assert answer.json()["errorCode"] == "UNAUTHORIZED"
    served = [pid for pid in workers if bytes_read(pid) > before[pid]]
    assert served == workers, "every worker must have been asked"
    assert gw.api("GET", "/api/auth/jwt/tokens", operator["token"]).status_code == 200


def test_v1_serves_through_a_redis_outage_and_the_fleet_shares_state_again(
    tmp_path, gateway_database, private_redis
):
    with gateway(
        tmp_path, database_url=gateway_database, redis_url=private_redis.url, plan=plan
    ) as gw:
        state = RedisState(private_redis.url, prefix=gw.env["STATE_KEY_PREFIX"])
        operator, revoked_before, revoked_during = gw.login(), gw.login(), gw.login()
        answer = gw.api(
            "POST", f"/api/auth/jwt/tokens/{revoked_before['tokenId']}/revoke", operator["token"]
        )
        assert answer.status_code == 200, answer.text

        with Traffic(gw) as traffic:
            traffic.wait_for("before", 10)

            traffic.phase = "outage"
            private_redis.stop()
            answer = gw.api(
                "POST",
                f"/api/auth/jwt/tokens/{revoked_during['tokenId']}/revoke",
                operator["token"],
                json={"reason": "revoked while Redis is down"},
            )
            assert answer.status_code == 200, answer.text
            assert_revocations_hold(gw, [revoked_before, revoked_during], operator)
            # Limits fail open while their state is unreachable (documented): nothing is refused.
            assert embeddings(gw, LIMIT + 4) == [200] * (LIMIT + 4)
            traffic.wait_for("outage", 10)

            traffic.phase = "recovering"
            private_redis.start()  # with its data: the revoked set lacks the token revoked meanwhile
            # Each worker retries Redis after OUTAGE_RETRY_SECONDS (its own clock, in its process).
            time.sleep(OUTAGE_RETRY_SECONDS * 1.5)
            traffic.phase = "after"
            traffic.wait_for("after", 10)

            traffic.phase = "frozen"
            frozen_at = time.monotonic()
            os.kill(private_redis.process.pid, signal.SIGSTOP)
            try:
                time.sleep(SOCKET_TIMEOUT * 1.5)  # long enough for several probes to time out
                # Without the gate every answer would take a socket timeout or more: this many
                # would take far longer than the wait allows.
                traffic.wait_for("frozen", FROZEN_ANSWERS)
            finally:
                os.kill(private_redis.process.pid, signal.SIGCONT)
            frozen_for = time.monotonic() - frozen_at
            traffic.phase = "thawed"
            time.sleep(OUTAGE_RETRY_SECONDS * 1.5)
            traffic.phase = "done"

        for phase in ("before", "outage", "after", "frozen"):
            assert set(traffic.statuses(phase)) == {200}, (phase, traffic.statuses(phase))
        assert traffic.slowest("outage") < 2.0, "a refused connection must fail fast"
        frozen = sorted(seconds for p, _, seconds in traffic.answers if p == "frozen")
        # No answer waits for more than one probe's socket timeout (plus a loaded machine's slack).
        assert frozen[-1] < 2 * SOCKET_TIMEOUT + 1, frozen[-5:]
        # Slow answers are only those in flight when Redis froze (one per traffic thread) and the
        # probes: one per worker and retry interval, each waiting out a socket timeout.
        probes = 2 * (math.ceil(frozen_for / (OUTAGE_RETRY_SECONDS + SOCKET_TIMEOUT)) + 1)
        slow = [seconds for seconds in frozen if seconds >= SOCKET_TIMEOUT / 2]
        assert len(slow) <= traffic.threads + probes, (len(slow), len(frozen), frozen_for)

        assert_revocations_hold(gw, [revoked_before, revoked_during], operator)
        # One limiter for the fleet again: exactly LIMIT admitted across both workers.
        statuses = embeddings(gw, LIMIT + 8)
        assert statuses.count(200) == LIMIT and statuses.count(429) == 8, statuses
        # One breaker for the fleet again: failures on both workers add up and open it.
        instance = f"flaky@{gw.upstream}"
        failing = {"x-fake-status": "500"}
        flaky = [
            gw.chat(model="flaky", headers=failing).status_code
            for _ in range(BREAKER["failureThreshold"])
        ]
        assert flaky == [500] * BREAKER["failureThreshold"]
        opened = breaker.decode(state.get(breaker_key(instance)))
        assert opened.state == breaker.BreakerState.OPEN
        assert opened.failure_count == BREAKER["failureThreshold"]
