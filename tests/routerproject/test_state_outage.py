"""The outage gate: one failed call per retry interval while the shared state is down, not one per
call; one probe at a time; logged once per transition."""

import logging

import pytest
import redis

from routerproject.state import STATE_ERRORS, OutageGate, RedisState, StateUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_closed_gate_refuses_at_once_until_its_retry_time(caplog):
    clock = Clock()
    gate = OutageGate(1.0, clock=clock)
    gate.enter()
    with caplog.at_level(logging.WARNING, logger="routerproject.state"):
        gate.failed(redis.ConnectionError("refused"))
        gate.failed(redis.ConnectionError("refused again"))
    assert [r.message for r in caplog.records].count(
        "Shared state unreachable (refused): degraded mode until it answers, retried every 1s"
    ) == 1
    assert not gate.is_open
    clock.now += 0.99
    with pytest.raises(StateUnavailable):
        gate.enter()
    assert issubclass(StateUnavailable, STATE_ERRORS)


def test_after_the_interval_one_call_probes_while_the_others_keep_failing_fast():
    clock = Clock()
    gate = OutageGate(1.0, clock=clock)
    gate.failed(OSError("down"))
    clock.now += 1.0
    gate.enter()  # the probe
    with pytest.raises(StateUnavailable):
        gate.enter()
    gate.failed(OSError("still down"))
    with pytest.raises(StateUnavailable):
        gate.enter()
    clock.now += 1.0
    gate.enter()
    gate.succeeded()
    assert gate.is_open
    gate.enter()
    gate.enter()


def test_an_abandoned_probe_lets_the_next_call_probe():
    clock = Clock()
    gate = OutageGate(1.0, clock=clock)
    gate.failed(OSError("down"))
    clock.now += 1.0
    gate.enter()
    gate.abandoned()  # e.g. the request was cancelled mid-call
    gate.enter()


def test_an_unreachable_redis_costs_one_connection_attempt_per_interval():
    state = RedisState("redis://127.0.0.1:1/0", socket_timeout=0.2, retry_after=60)
    with pytest.raises(redis.ConnectionError) as first:
        state.get("key")
    assert not isinstance(first.value, StateUnavailable)
    for _ in range(50):
        with pytest.raises(StateUnavailable):
            state.get("key")
    assert state.gate.failures == 1
    assert state.ping() is False  # health checks still ask the server
    assert state.gate.failures == 2


def test_a_redis_answer_opens_the_gate(redis_server_url):
    state = RedisState(redis_server_url, prefix="test-gate:", retry_after=0.0)
    state.gate.failed(OSError("was down"))
    assert state.get("missing") is None
    assert state.gate.is_open
