"""In-flight counts of least connections come back to the truth when the workers holding them are
killed: 2 gunicorn workers share Redis, 6 slow streams are open, then every worker gets SIGKILL."""

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from routerproject.state.base import LEASE_OWNER_TTL_SECONDS
from tests.processes import worker_pids
from tests.routing.resilience.stack import resilience_stack

pytestmark = [pytest.mark.processes, pytest.mark.redis, pytest.mark.pass_independent]

STREAMS = 6
SLOW_STREAM = {"x-fake-chunks": "200", "x-fake-chunk-delay-ms": "200"}  # 40 s if left alone


def plan(upstreams: list[str], dead: str) -> dict:
    chat = {"name": "chat", "load_balancer": "least_connections", "retries": 0}
    return {
        "services": [chat],
        "instances": [
            {"service_type": "chat", "name": "fake-chat", "base_url": upstreams[0]},
            {"service_type": "chat", "name": "fake-chat", "base_url": upstreams[1]},
        ],
    }


def open_stream(stack, streams: ExitStack) -> Iterator[bytes]:
    """A stream relayed (its lease held) until the returned iterator is dropped."""
    body = {"model": "fake-chat", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    response = streams.enter_context(
        stack.client.stream(
            "POST", f"{stack.url}/v1/chat/completions", json=body, headers=SLOW_STREAM
        )
    )
    assert response.status_code == 200
    chunks = response.iter_bytes()
    next(chunks)
    return chunks


def test_in_flight_counts_of_killed_workers_are_dropped_within_seconds(tmp_path, redis_server_url):
    with resilience_stack(tmp_path, plan, redis_url=redis_server_url, workers=2) as stack:
        ids = [f"fake-chat@{u.url}" for u in stack.upstreams]
        with ExitStack() as streams:
            held = [open_stream(stack, streams) for _ in range(STREAMS)]
            assert sum(stack.in_flight(i) for i in ids) == STREAMS
            for pid in worker_pids(stack.gunicorn.pid):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(httpx.HTTPError):
                streams.close()  # the broken streams
            del held
        killed_at = time.monotonic()
        deadline = killed_at + LEASE_OWNER_TTL_SECONDS + 5
        while sum(stack.in_flight(i) for i in ids) and time.monotonic() < deadline:
            time.sleep(0.2)
        counts = {i: stack.in_flight(i) for i in ids}
        assert counts == dict.fromkeys(ids, 0), f"{time.monotonic() - killed_at:.1f}s after"
        with ExitStack() as streams:
            held = [open_stream(stack, streams) for _ in range(2)]
            # Both instances count as idle again: the new workers' two streams go one to each.
            assert [stack.in_flight(i) for i in ids] == [1, 1]
            del held
