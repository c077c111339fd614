"""Soak: mixed /v1 traffic for a fixed time, then what the gateway holds once it stops.

    .venv/bin/python bench/soak.py [--duration 60] [--concurrency 16] [--redis URL] [--json] [--keep]

Starts the simulated backend (`routing.fakeupstream`), a fresh SQLite database seeded through the
control plane's services, and the gateway as in production (gunicorn with docker/gunicorn.conf.py,
two uvicorn workers, metrics across workers). `--concurrency` asyncio clients on keep-alive
connections send, in a fixed rotation: plain and streamed chat completions, upstream failures
(`x-fake-status: 500` and `429`), a flaky upstream (`x-fake-error-rate: 0.5`), and streams the
client abandons after the first chunk. Each kind has the statuses it may get; anything else is
counted as unexpected.

Reported: requests and errors per kind, the resident memory (RSS) and open sockets of each worker
after a warm-up and after the run, sockets left in CLOSE_WAIT, and, once the traffic has stopped,
the in-flight counts: the `gateway_in_flight_requests` gauge of /metrics, the least-connections
leases in shared state (with `--redis`; the chat service balances by least connections) and the
upstream's open streams. All must come back to zero.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.processes import (  # noqa: E402
    free_port,
    gunicorn_command,
    manage,
    project_env,
    running,
    worker_pids,
)

SEED = """
import json, os
from routing.models import ServiceType
from routing.services import instance_add, service_type_create, service_type_update
# Breakers off: the soak is about leaks, and an open breaker would make the statuses depend on timing.
chat = dict(load_balancer="least_connections", retries=0, circuit_breaker={
    "enabled": False, "failureThreshold": 5, "recoveryTimeout": 30000, "successThreshold": 2})
exists = ServiceType.objects.filter(name="chat").exists()
(service_type_update if exists else service_type_create)(actor=None, name="chat", **chat)
for base_url in json.loads(os.environ["SOAK_UPSTREAMS"]):
    instance_add(actor=None, service_type="chat", name="fake-chat", base_url=base_url)
from authjwt.services import api_key_create
print("API_KEY=" + api_key_create(name="soak")[1])
"""
IN_FLIGHT_GAUGE = re.compile(r"^\w*gateway_in_flight_requests\{[^}]*\} (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Kind:
    name: str
    headers: dict[str, str]
    stream: bool
    expected: frozenset[int]
    abandon: bool = False


# The rotation each client follows: mostly successes, every failure mode in between.
ROTATION = [
    Kind("plain", {}, False, frozenset({200})),
    Kind("stream", {"x-fake-chunks": "8"}, True, frozenset({200})),
    Kind("plain", {}, False, frozenset({200})),
    Kind("upstream_500", {"x-fake-status": "500"}, False, frozenset({500})),
    Kind("stream", {"x-fake-chunks": "8"}, True, frozenset({200})),
    Kind("flaky", {"x-fake-error-rate": "0.5"}, False, frozenset({200, 500})),
    Kind(
        "abandoned_stream",
        {"x-fake-chunks": "40", "x-fake-chunk-delay-ms": "20"},
        True,
        frozenset({200}),
        abandon=True,
    ),
    Kind("upstream_429", {"x-fake-status": "429"}, False, frozenset({429})),
]


@dataclass
class Tally:
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    unexpected: Counter[str] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    incomplete_streams: int = 0

    def record(self, kind: Kind, status: int) -> None:
        self.statuses.setdefault(kind.name, Counter())[status] += 1
        if status not in kind.expected:
            self.unexpected[f"{kind.name}:{status}"] += 1

    @property
    def requests(self) -> int:
        return sum(sum(counts.values()) for counts in self.statuses.values())


def request_bytes(port: int, api_key: str, kind: Kind) -> bytes:
    body = json.dumps(
        {
            "model": "fake-chat",
            "messages": [{"role": "user", "content": "Say hello."}],
            "stream": kind.stream,
        }
    ).encode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in kind.headers.items())
    return (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer {api_key}\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def read_answer(reader: asyncio.StreamReader, *, first_chunk_only: bool) -> tuple[int, bytes]:
    """(status, body); with `first_chunk_only`, stops after the first chunk of a chunked body."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            body += (await reader.readexactly(size + 2))[:size]
            if size == 0 or first_chunk_only:
                return status, bytes(body)
    start = lower.index(b"content-length:") + 15
    length = int(lower[start : lower.index(b"\r\n", start)])
    return status, await reader.readexactly(length)


async def client(port: int, api_key: str, offset: int, deadline: float, tally: Tally) -> None:
    payloads = [request_bytes(port, api_key, kind) for kind in ROTATION]
    turn = offset
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while time.monotonic() < deadline:
        kind, payload = ROTATION[turn % len(ROTATION)], payloads[turn % len(ROTATION)]
        turn += 1
        try:
            if connection is None:
                connection = await asyncio.open_connection("127.0.0.1", port)
            reader, writer = connection
            writer.write(payload)
            status, body = await asyncio.wait_for(
                read_answer(reader, first_chunk_only=kind.abandon), timeout=30
            )
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            tally.transport_errors[f"{kind.name}:{type(exc).__name__}"] += 1
            if connection is not None:
                connection[1].close()
            connection = None
            continue
        tally.record(kind, status)
        if kind.stream and status == 200 and not kind.abandon and b"data: [DONE]" not in body:
            tally.incomplete_streams += 1
        if kind.abandon:
            # The client goes away mid-stream: the gateway must let go of the upstream and the lease.
            writer.transport.abort()
            connection = None
    if connection is not None:
        connection[1].close()


async def traffic(port: int, api_key: str, concurrency: int, duration: float) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + duration
    await asyncio.gather(
        *(client(port, api_key, index, deadline, tally) for index in range(concurrency))
    )
    return tally


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _tcp_states() -> dict[str, str]:
    """inode -> TCP state (hex, as in /proc/net/tcp: 01 ESTABLISHED, 08 CLOSE_WAIT)."""
    states = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            states[parts[9]] = parts[3]
    return states


def sockets(pid: int) -> dict[str, int]:
    """Open sockets of a process: all of them, TCP established, TCP in CLOSE_WAIT (a peer closed
    and this process never did: the signature of a leaked connection)."""
    inodes, states = _socket_inodes(pid), _tcp_states()
    mine = [states[i] for i in inodes if i in states]
    return {
        "open": len(inodes),
        "established": mine.count("01"),
        "close_wait": mine.count("08"),
    }


def in_flight_gauge(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(float(value) for value in IN_FLIGHT_GAUGE.findall(text))


def measure_workers(pids: list[int]) -> dict[str, dict]:
    return {str(pid): {"rss_mb": round(rss_mb(pid), 1), **sockets(pid)} for pid in pids}


def settle(url: str, upstreams: list[str], leases, timeout: float = 15.0) -> dict:
    """Poll until every in-flight count is back to zero (or the timeout); returns the last reading."""
    started = time.monotonic()
    while True:
        reading = {
            "gauge": in_flight_gauge(url),
            "leases": leases(),
            "upstream_open_streams": sum(
                httpx.get(f"{u}/_fake/stats", timeout=5).json()["open_streams"] for u in upstreams
            ),
        }
        settled = not reading["gauge"] and not any(reading["leases"].values())
        settled = settled and not reading["upstream_open_streams"]
        if settled or time.monotonic() - started > timeout:
            reading["settled_after_s"] = round(time.monotonic() - started, 2)
            reading["settled"] = settled
            return reading
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--redis", default="", help="shared state in this Redis (under a fresh key prefix)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--keep", action="store_true", help="keep the run's directory (database, process logs)"
    )
    options = parser.parse_args()

    upstream_port, port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}"
    url = f"http://127.0.0.1:{port}"
    var = Path(tempfile.mkdtemp(prefix="soak-"))
    prefix = f"soak-{uuid.uuid4().hex}:"
    upstreams = [upstream, upstream + "/v1"]  # two instances on one simulated backend
    env = project_env(
        DJANGO_SETTINGS_MODULE="routerproject.settings.production",
        DJANGO_SECRET_KEY="soak-" + os.urandom(32).hex(),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        DATABASE_URL=None,
        REDIS_URL=options.redis or None,
        STATE_KEY_PREFIX=prefix,
        CELERY_TASK_DEFAULT_QUEUE=f"soak-{uuid.uuid4().hex}",
        ROUTER_VAR_DIR=str(var),
        PROMETHEUS_MULTIPROC_DIR=str(var / "prometheus"),
        LOG_LEVEL="WARNING",
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY=str(options.workers),
        SOAK_UPSTREAMS=json.dumps(upstreams),
    )
    (var / "prometheus").mkdir()  # gunicorn's on_starting empties it again
    for step in (["migrate", "--noinput"], ["shell", "-c", SEED]):
        result = manage(*step, env=env)
        if result.returncode:
            raise SystemExit(result.stderr[-3000:])
    api_key = result.stdout.split("API_KEY=", 1)[1].split()[0]

    state = None
    if options.redis:
        from routerproject.state import RedisState

        state = RedisState(options.redis, prefix=prefix)
    instance_ids = [f"fake-chat@{u}" for u in upstreams]

    def leases() -> dict[str, int]:
        if state is None:
            return {}
        return {i: state.lease_count(f"lb:inflight:{i}") for i in instance_ids}

    fake = [sys.executable, "-m", "routing.fakeupstream", "--port", str(upstream_port)]
    gunicorn = gunicorn_command(port, workers=options.workers, production_config=True)
    fake_env = {k: v for k, v in env.items() if k != "WEB_CONCURRENCY"}
    try:
        with (
            running(fake, env=fake_env, ready_url=f"{upstream}/health", log=var / "upstream.log"),
            running(
                gunicorn, env=env, ready_url=f"{url}/health", log=var / "gateway.log"
            ) as arbiter,
        ):
            pids = worker_pids(arbiter.pid)
            warmup = asyncio.run(traffic(port, api_key, options.concurrency, options.warmup))
            settle(url, [upstream], leases)
            before = measure_workers(pids)
            started = time.monotonic()
            tally = asyncio.run(traffic(port, api_key, options.concurrency, options.duration))
            elapsed = time.monotonic() - started
            after_traffic = settle(url, [upstream], leases)
            after = measure_workers(pids)
            restarted = sorted(set(worker_pids(arbiter.pid)) ^ set(pids))
            upstream_stats = httpx.get(f"{upstream}/_fake/stats", timeout=5).json()
    finally:
        if state is not None:
            state.clear()
        if not options.keep:
            shutil.rmtree(var, ignore_errors=True)

    report = {
        "duration_s": round(elapsed, 1),
        "concurrency": options.concurrency,
        "workers": options.workers,
        "shared_state": "redis" if options.redis else "memory",
        "requests": tally.requests,
        "requests_per_s": round(tally.requests / elapsed, 1),
        "warmup_requests": warmup.requests,
        "statuses": {k: dict(sorted(v.items())) for k, v in sorted(tally.statuses.items())},
        "unexpected": dict(tally.unexpected),
        "transport_errors": dict(tally.transport_errors),
        "incomplete_streams": tally.incomplete_streams,
        "in_flight_after": after_traffic,
        "upstream": upstream_stats,
        "workers_before": before,
        "workers_after": after,
        "workers_restarted": restarted,
        "logs": str(var) if options.keep else None,
    }
    if options.json:
        print(json.dumps(report))
        return
    print(f"soak: {report['requests']} requests in {report['duration_s']} s "
          f"({report['requests_per_s']}/s), concurrency {options.concurrency}, "
          f"{options.workers} workers, shared state {report['shared_state']}")  # fmt: skip
    for name, counts in report["statuses"].items():
        print(f"  {name:18} {counts}")
    print(f"  unexpected statuses {report['unexpected'] or 'none'}, transport errors "
          f"{report['transport_errors'] or 'none'}, incomplete streams {tally.incomplete_streams}")  # fmt: skip
    print(f"  in flight after the run: {after_traffic}")
    print(f"  upstream (warm-up included): {upstream_stats}")
    for pid in pids:
        b, a = before[str(pid)], after[str(pid)]
        print(f"  worker {pid}: RSS {b['rss_mb']} -> {a['rss_mb']} MB "
              f"({a['rss_mb'] / b['rss_mb']:.2f}x), sockets {b['open']} -> {a['open']}, "
              f"CLOSE_WAIT {a['close_wait']}")  # fmt: skip
    if restarted:
        print(f"  workers restarted during the run: {restarted}")


if __name__ == "__main__":
    main()
