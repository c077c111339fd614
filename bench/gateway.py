"""Gateway benchmark: the simulated backend directly and through the gateway, in one run.

    .venv/bin/python bench/gateway.py [--duration 5] [--workers N] [--out bench/RESULTS.md]

Starts `routing.fakeupstream` (one uvicorn process), a fresh SQLite database seeded through the
control plane's services, and the gateway as in production (gunicorn, uvicorn workers, one per core
by default). A keep-alive asyncio load generator (uvloop, raw HTTP/1.1, one connection per
concurrency slot) drives POST /v1/chat/completions at concurrency 1, 8 and 64 for --duration
seconds each, directly and through the gateway; then, through the gateway at concurrency 1 and 8,
`model: auto` on the `neural` chat service against `fake-chat` served by name (what the neural
routing decision adds); then streaming time to first byte at concurrency 1; then reads the resident
memory of each gateway worker. Everything shares the same machine, so
figures are only comparable within one run. Writes a Markdown table to --out.
"""

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.processes import free_port, manage, project_env, running  # noqa: E402

CHAT_BODY = json.dumps(
    {"model": "fake-chat", "messages": [{"role": "user", "content": "Say hello."}]}
).encode()
STREAM_BODY = json.dumps(
    {"model": "fake-chat", "messages": [{"role": "user", "content": "Say hello."}], "stream": True}
).encode()
# `auto` on the neural chat service: the router scores the prompt and picks a tier (an everyday
# prompt of about 40 words); `fake-chat` is served by name, without the router.
NEURAL_BODY = json.dumps(
    {
        "model": "auto",
        "messages": [
            {
                "role": "user",
                "content": "Our team is moving a small web service from a single server to two "
                "servers behind a load balancer. What should we check about sessions, file "
                "uploads and scheduled jobs before we switch, and in what order?",
            }
        ],
    }
).encode()
SEED = """
import json, os
from routing.services import instance_add, service_type_update
upstream = os.environ["BENCH_UPSTREAM"]
instance_add(actor=None, service_type="chat", name="fake-chat", base_url=upstream)
service_type_update(name="chat", actor=None, load_balancer="neural")
instance_add(actor=None, service_type="chat", name="tier-small", base_url=upstream, tier="lightweight")
instance_add(actor=None, service_type="chat", name="tier-large", base_url=upstream, tier="powerful")
from authjwt.services import api_key_create
print("API_KEY=" + api_key_create(name="bench")[1])
"""
# Set from the seed: every request through the gateway carries a real client key, as in production.
API_KEY = ""


def request_bytes(port: int, path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {API_KEY}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, float]:
    """Reads one response; returns (status, seconds from call to the first body byte)."""
    started = time.perf_counter()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        first = None
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.strip(), 16)
            if first is None:
                first = time.perf_counter() - started
            await reader.readexactly(size + 2)
            if size == 0:
                return status, first
    start = lower.index(b"content-length:") + 15
    length = int(lower[start : lower.index(b"\r\n", start)])
    await reader.readexactly(length)
    return status, time.perf_counter() - started


async def load(port: int, path: str, body: bytes, concurrency: int, duration: float) -> dict:
    payload = request_bytes(port, path, body)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                writer.write(payload)
                status, _ = await read_response(reader)
                latencies.append(time.perf_counter() - sent)
                errors += status != 200
        finally:
            writer.close()

    # A short warm-up so pools and caches are filled before measuring.
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    latencies.sort()
    return {
        "rps": len(latencies) / duration,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "errors": errors,
        "count": len(latencies),
    }


async def ttfb(port: int, path: str, repeats: int) -> float:
    payload = request_bytes(port, path, STREAM_BODY)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    samples = []
    for _ in range(repeats):
        writer.write(payload)
        _, first = await read_response(reader)
        samples.append(first)
    writer.close()
    return statistics.median(samples) * 1000


def worker_rss_mb(master_pid: int) -> list[float]:
    children = subprocess.run(
        ["pgrep", "-P", str(master_pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    sizes = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


def prepare(upstream: str, *, redis_url: str = "") -> dict[str, str]:
    """A fresh SQLite database seeded with one `fake-chat` instance at `upstream` and a client key
    (kept in API_KEY); returns the environment of the gateway's processes (production settings,
    shared state in Redis when `redis_url` is given, else in each worker's memory)."""
    global API_KEY
    env = project_env(
        DJANGO_SETTINGS_MODULE="routerproject.settings.production",
        DJANGO_SECRET_KEY="bench-" + os.urandom(32).hex(),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=None,
        REDIS_URL=redis_url or None,
        STATE_KEY_PREFIX=f"bench-{os.getpid()}-{time.monotonic_ns()}:",
        ROUTER_VAR_DIR=tempfile.mkdtemp(prefix="bench-gateway-"),
        LOG_LEVEL="WARNING",
        BENCH_UPSTREAM=upstream,
        NEURAL_EXPLORATION_RATE="0",
        SECURE_SSL_REDIRECT="false",
    )
    for step in (["migrate", "--noinput"], ["shell", "-c", SEED]):
        result = manage(*step, env=env)
        if result.returncode:
            raise SystemExit(result.stderr)
    API_KEY = result.stdout.split("API_KEY=", 1)[1].split()[0]
    return env


def upstream_command(port: int) -> list[str]:
    return [sys.executable, "-m", "routing.fakeupstream", "--port", str(port)]


def gunicorn_command(port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "routerproject.asgi:application",
        "-k", "uvicorn_worker.UvicornWorker", "-w", str(workers),
        "-b", f"127.0.0.1:{port}", "--log-level", "warning",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--ttfb-repeats", type=int, default=300)
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    parser.add_argument(
        "--redis",
        default="",
        help="Run the gateway on Redis shared state (e.g. redis://127.0.0.1:6379/13), as a fleet would.",
    )
    options = parser.parse_args()

    import uvloop

    upstream_port, gateway_port = free_port(), free_port()
    env = prepare(f"http://127.0.0.1:{upstream_port}", redis_url=options.redis)
    fake = upstream_command(upstream_port)
    gunicorn = gunicorn_command(gateway_port, options.workers)
    rows = []
    with (
        running(fake, env=env, ready_url=f"http://127.0.0.1:{upstream_port}/health"),
        running(gunicorn, env=env, ready_url=f"http://127.0.0.1:{gateway_port}/health") as gw,
    ):
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            for concurrency in (1, 8, 64):
                # Warm-up: every worker builds its live configuration and opens its pool.
                runner.run(load(gateway_port, "/v1/chat/completions", CHAT_BODY, concurrency, 1.0))
                direct = runner.run(
                    load(
                        upstream_port,
                        "/v1/chat/completions",
                        CHAT_BODY,
                        concurrency,
                        options.duration,
                    )
                )
                through = runner.run(
                    load(
                        gateway_port,
                        "/v1/chat/completions",
                        CHAT_BODY,
                        concurrency,
                        options.duration,
                    )
                )
                rows.append((concurrency, direct, through))
                print(concurrency, direct, through, flush=True)
            neural_rows = []
            for concurrency in (1, 8):
                by_name, routed = (
                    runner.run(
                        load(
                            gateway_port,
                            "/v1/chat/completions",
                            body,
                            concurrency,
                            options.duration,
                        )
                    )
                    for body in (CHAT_BODY, NEURAL_BODY)
                )
                neural_rows.append((concurrency, by_name, routed))
                print("neural", concurrency, by_name, routed, flush=True)
            ttfb_direct = runner.run(
                ttfb(upstream_port, "/v1/chat/completions", options.ttfb_repeats)
            )
            ttfb_gateway = runner.run(
                ttfb(gateway_port, "/v1/chat/completions", options.ttfb_repeats)
            )
        rss = worker_rss_mb(gw.pid)

    command = f".venv/bin/python bench/gateway.py --duration {options.duration:g} --workers {options.workers}"
    if options.redis:
        command += f" --redis {options.redis}"
    state_note = "in Redis" if options.redis else "in each worker's memory"
    lines = [
        "# Gateway benchmark",
        "",
        f"`{command}` on {os.cpu_count()} cores, Python {platform.python_version()}; gunicorn with "
        f"{options.workers} uvicorn workers, the simulated upstream (`routing.fakeupstream`, one "
        "process, no added latency) and the load generator on the same machine; shared state "
        f"{state_note}. "
        "POST /v1/chat/completions (non-streamed, ~400-byte answer), keep-alive connections.",
        "",
        "| concurrency | direct req/s | gateway req/s | direct p50 ms | gateway p50 ms | overhead p50 ms | direct p99 ms | gateway p99 ms | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for concurrency, direct, through in rows:
        lines.append(
            f"| {concurrency} | {direct['rps']:,.0f} | {through['rps']:,.0f} | {direct['p50']:.2f} | "
            f"{through['p50']:.2f} | {through['p50'] - direct['p50']:.2f} | {direct['p99']:.2f} | "
            f"{through['p99']:.2f} | {direct['errors'] + through['errors']} |"
        )
    lines += [
        "",
        "Neural routing, through the gateway: `model: auto` on the `neural` chat service (the router "
        "embeds and scores the prompt, then picks a tier) against `fake-chat` served by name on the "
        "same service. The difference of the p50s is what the routing decision adds to a request.",
        "",
        "| concurrency | by name req/s | auto req/s | by name p50 ms | auto p50 ms | decision adds p50 ms | by name p99 ms | auto p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for concurrency, by_name, routed in neural_rows:
        lines.append(
            f"| {concurrency} | {by_name['rps']:,.0f} | {routed['rps']:,.0f} | {by_name['p50']:.2f} | "
            f"{routed['p50']:.2f} | {routed['p50'] - by_name['p50']:.2f} | {by_name['p99']:.2f} | "
            f"{routed['p99']:.2f} |"
        )
    lines += [
        "",
        f"Streaming time to first byte (median of {options.ttfb_repeats}, concurrency 1): direct "
        f"{ttfb_direct:.2f} ms, through the gateway {ttfb_gateway:.2f} ms, overhead "
        f"{ttfb_gateway - ttfb_direct:.2f} ms.",
        "",
        "Resident memory per gateway worker after the run: "
        + ", ".join(f"{size:.0f} MB" for size in rss)
        + ".",
        "",
    ]
    Path(options.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
