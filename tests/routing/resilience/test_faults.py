"""Fault scenarios end to end: gunicorn workers sharing Redis, two simulated upstreams, one of which
is killed, slowed, made to fail or cut mid-stream. After each scenario no in-flight count and no
upstream stream is left behind."""

import time

import httpx
import pytest

from routing.resilience.breaker import BreakerState
from tests.routing.resilience.stack import resilience_stack

pytestmark = [pytest.mark.processes, pytest.mark.redis, pytest.mark.pass_independent]

BREAKER = {"enabled": True, "failureThreshold": 2, "recoveryTimeout": 1000, "successThreshold": 1}


def plan(upstreams: list[str], dead: str) -> dict:
    chat = {
        "name": "chat",
        "load_balancer": "least_connections",
        "retries": 1,
        "circuit_breaker": BREAKER,
        "request_timeout_ms": 1000,
        "fallback": {"models": ["fake-chat"]},
    }
    return {
        "services": [chat],
        "instances": [
            {"service_type": "chat", "name": "fake-chat", "base_url": upstreams[0]},
            {"service_type": "chat", "name": "fake-chat", "base_url": upstreams[1]},
            {"service_type": "chat", "name": "solo", "base_url": upstreams[1]},
        ],
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_server_url):
    with resilience_stack(
        tmp_path_factory.mktemp("faults"), plan, redis_url=redis_server_url, workers=2
    ) as running_stack:
        yield running_stack


@pytest.fixture
def ids(stack):
    a, b = (u.url for u in stack.upstreams)
    return {"a": f"fake-chat@{a}", "b": f"fake-chat@{b}", "solo": f"solo@{b}"}


@pytest.fixture(autouse=True)
def _settled(stack, ids):
    for upstream in stack.upstreams:
        upstream.reset()
    yield
    stack.wait_settled(list(ids.values()))
    stack.reset_breakers(*ids.values())
    for upstream in stack.upstreams:
        if upstream.process is None:
            upstream.start()
        upstream.reset()


def chat(stack, model="fake-chat", **headers) -> httpx.Response:
    return stack.client.post(
        f"{stack.url}/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers=headers,
    )


def requests_seen(stack) -> int:
    return sum(u.stats()["requests"] for u in stack.upstreams if u.process)


def test_a_killed_backend_opens_its_breaker_and_closes_it_once_back(stack, ids):
    stack.upstreams[1].kill()
    # The balancer breaks ties at random, so how many requests it takes to try the dead backend
    # twice varies: send until its breaker opens (bounded), then a few more that must skip it.
    responses: list[httpx.Response] = []
    while stack.breaker(ids["b"]).state != BreakerState.OPEN and len(responses) < 60:
        responses.append(chat(stack))
    assert stack.breaker(ids["b"]).state == BreakerState.OPEN
    responses += [chat(stack) for _ in range(5)]
    assert [r.status_code for r in responses] == [200] * len(responses)
    assert {r.headers["x-router-instance"] for r in responses} == {ids["a"]}
    assert stack.breaker(ids["b"]).failure_count == 2  # skipped once open
    # A model served only by the dead backend falls back to the service's fallback model.
    fallback = chat(stack, "solo")
    assert fallback.status_code == 200 and fallback.headers["x-router-fallback"] == "fake-chat"

    stack.upstreams[1].start()
    time.sleep(1.1)  # the recovery timeout (real processes: no clock to drive)
    # Requests until the probe lands on it and closes it; bounded, as a loaded machine is slow.
    deadline, served = time.monotonic() + 15, set()
    while time.monotonic() < deadline:
        served.add(chat(stack).headers["x-router-instance"])
        if ids["b"] in served and stack.breaker(ids["b"]).state == BreakerState.CLOSED:
            break
    assert ids["b"] in served
    assert stack.breaker(ids["b"]).state == BreakerState.CLOSED


def test_a_slow_backend_answers_504_and_is_retried_only_when_idempotent(stack):
    assert chat(stack, **{"x-fake-latency-ms": "2000"}).status_code == 504
    assert requests_seen(stack) == 1
    retried = chat(stack, **{"x-fake-latency-ms": "2000", "idempotency-key": "k-1"})
    assert retried.status_code == 504
    assert requests_seen(stack) == 3


def test_500_is_relayed_429_is_retried_and_repeated_failures_open_a_breaker(stack, ids):
    failed = chat(stack, **{"x-fake-status": "500"})
    assert failed.status_code == 500 and requests_seen(stack) == 1
    first = failed.headers["x-router-instance"]
    limited = chat(stack, **{"x-fake-status": "429"})
    assert limited.status_code == 429 and requests_seen(stack) == 3
    # `first` failed twice in a row (500 then 429): open; the other failed once.
    other = ids["b"] if first == ids["a"] else ids["a"]
    assert stack.breaker(first).state == BreakerState.OPEN
    assert stack.breaker(other).state == BreakerState.CLOSED
    assert {chat(stack).headers["x-router-instance"] for _ in range(4)} == {other}


def test_a_stream_cut_in_the_middle_ends_with_an_sse_error_event(stack):
    body = {"model": "solo", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-fake-chunks": "40", "x-fake-chunk-delay-ms": "50"}
    with stack.client.stream(
        "POST", f"{stack.url}/v1/chat/completions", json=body, headers=headers
    ) as response:
        assert response.status_code == 200
        chunks = response.iter_bytes()
        received = next(chunks)
        assert received.startswith(b"data: ")
        stack.upstreams[1].kill()
        received += b"".join(chunks)
    assert b"upstream stream broke" in received
    assert received.rstrip().endswith(b"}")  # the error event ends the stream


def test_random_upstream_failures_each_get_a_definite_answer(stack):
    seen = requests_seen(stack)
    responses = [chat(stack, **{"x-fake-error-rate": "0.5"}) for _ in range(20)]
    # Which upstream call fails is random; what each answer is follows from it: the upstream's
    # answer relayed (200 or its simulated 500, never retried), or, once both breakers are open
    # (two failures in a row each), 503 without an upstream call.
    for response in responses:
        assert response.headers.get("x-request-id")
        if response.status_code == 200:
            assert response.json()["choices"][0]["message"]["content"]
        elif response.status_code == 500:
            assert response.json()["error"]["message"] == "simulated failure 500"
        else:
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "circuit_open"
            assert int(response.headers["retry-after"]) >= 1
    relayed = [r for r in responses if r.status_code != 503]
    assert requests_seen(stack) - seen == len(relayed)
