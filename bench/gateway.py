"""Gateway benchmark: the simulated backend directly, through nginx and through the gateway, in one
run on the same backend.

    .venv/bin/python bench/gateway.py [--duration 5] [--workers N] [--ttfb-repeats 300]
        [--redis URL | --no-redis] [--out bench/RESULTS.md] [--json bench/RESULTS.json]

Starts `routing.fakeupstream` (one uvicorn process) and a fresh SQLite database seeded through the
control plane's services, then measures, one after the other so they never compete:

- `direct`: the simulated backend itself;
- `nginx`: a plain nginx reverse proxy (bench/nginx.py, --workers worker processes, keep-alive to
  the backend, no buffering) in front of it, the floor of any proxy; only when Debian's nginx is
  installed, otherwise the output says the row is missing;
- `gateway (memory)`: the gateway as in production (gunicorn, --workers uvicorn workers), shared
  state in each worker's memory;
- `gateway (redis)`: the same gateway and database with REDIS_URL set (--redis, skipped with the
  reason when Redis does not answer a ping, or with --no-redis).

A keep-alive asyncio load generator (uvloop, raw HTTP/1.1, one connection per concurrency slot)
drives POST /v1/chat/completions at concurrency 1, 8 and 64: a 1 s warm-up, then --duration seconds
measured. Each row reports req/s, p50 and p99 latency, the overhead against `direct` (same
concurrency, same run) and, for the proxies, the CPU time their processes (gunicorn's arbiter and
workers, nginx's master and workers; /proc/<pid>/stat utime + stime) used during the measured
phase: per request, and as requests served per second of CPU (req/s per proxy core). Clock ticks
are 10 ms, so short runs give coarse CPU figures. Then, on the memory gateway, `model: auto` on the
`neural` chat service against `fake-chat` served by name (what the neural routing decision adds);
streaming time to first byte at concurrency 1 for every row; and the resident memory of each
gateway worker. The load generator, the backend and the proxy share the machine, so figures are
only comparable within one run. Writes a Markdown report to --out and the same figures as JSON to
--json.
"""

import argparse
import asyncio
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import nginx  # noqa: E402
from tests.backends import redis_problem  # noqa: E402
from tests.processes import free_port, manage, overridden, project_env, running  # noqa: E402

PATH = "/v1/chat/completions"
CONCURRENCIES = (1, 8, 64)
NEURAL_CONCURRENCIES = (1, 8)
WARM_UP_SECONDS = 1.0
TICKS = os.sysconf("SC_CLK_TCK")
DIRECT, NGINX, MEMORY, REDIS = "direct", "nginx", "gateway (memory)", "gateway (redis)"

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
# Set from the seed: every request carries a real client key, as in production (the backend and
# nginx ignore it, so every row sends the same bytes).
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
    """`concurrency` keep-alive connections sending `body` back to back for `duration` seconds."""
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


def children(pid: int) -> list[int]:
    """The child processes of `pid`: a gunicorn arbiter's workers, an nginx master's workers."""
    return [
        int(child)
        for child in subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
        ).stdout.split()
    ]


def worker_rss_mb(master_pid: int) -> list[float]:
    sizes = []
    for pid in children(master_pid):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


def cpu_seconds(master_pid: int) -> dict[int, float]:
    """CPU time (user + system) each process of a proxy has used so far: the master and its
    children. /proc/<pid>/stat: utime and stime are fields 14 and 15, after the parenthesised
    name."""
    times = {}
    for pid in (master_pid, *children(master_pid)):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        times[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return times


def measure(
    runner: asyncio.Runner,
    port: int,
    body: bytes,
    concurrency: int,
    duration: float,
    master_pid: int | None = None,
) -> dict:
    """A warm-up (every worker builds its live configuration and opens its pool), then the measured
    load. With `master_pid`, adds the CPU the proxy's processes used during the measured load: per
    request (ms) and as requests per CPU second (req/s per proxy core)."""
    runner.run(load(port, PATH, body, concurrency, WARM_UP_SECONDS))
    before = cpu_seconds(master_pid) if master_pid else {}
    result = runner.run(load(port, PATH, body, concurrency, duration))
    result["cpu_ms_per_request"] = result["rps_per_core"] = None
    if master_pid:
        # A worker started during the load (one replaced after dying) counts from zero.
        used = sum(t - before.get(pid, 0.0) for pid, t in cpu_seconds(master_pid).items())
        if used > 0:
            result["cpu_ms_per_request"] = used * 1000 / result["count"]
            result["rps_per_core"] = result["count"] / used
    return result


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


def proxy_rows(
    runner: asyncio.Runner, name: str, port: int, duration: float, master_pid: int | None
) -> list[dict]:
    """One row per concurrency for the server on `port` (a proxy when `master_pid` is given)."""
    rows = []
    for concurrency in CONCURRENCIES:
        result = measure(runner, port, CHAT_BODY, concurrency, duration, master_pid)
        rows.append({"row": name, "concurrency": concurrency, **result})
        print(name, concurrency, result, flush=True)
    return rows


def gateway_run(
    runner: asyncio.Runner,
    report: dict,
    name: str,
    env: dict[str, str],
    options: argparse.Namespace,
    neural: bool,
) -> None:
    """Starts the gateway, adds its rows, time to first byte, worker memory (and, when `neural`,
    the neural comparison) to `report`, then stops it."""
    port = free_port()
    with running(
        gunicorn_command(port, options.workers),
        env=env,
        ready_url=f"http://127.0.0.1:{port}/health",
    ) as arbiter:
        report["rows"] += proxy_rows(runner, name, port, options.duration, arbiter.pid)
        if neural:
            for concurrency in NEURAL_CONCURRENCIES:
                by_name, auto = (
                    measure(runner, port, body, concurrency, options.duration, arbiter.pid)
                    for body in (CHAT_BODY, NEURAL_BODY)
                )
                report["neural"].append(
                    {"row": name, "concurrency": concurrency, "by_name": by_name, "auto": auto}
                )
                print("neural", concurrency, by_name, auto, flush=True)
        report["ttfb"].append(
            {"row": name, "ms": runner.run(ttfb(port, PATH, options.ttfb_repeats))}
        )
        report["worker_rss_mb"][name] = worker_rss_mb(arbiter.pid)


def add_overheads(report: dict) -> None:
    """Overhead of every row against `direct` at the same concurrency, in the same run."""
    direct = {row["concurrency"]: row for row in report["rows"] if row["row"] == DIRECT}
    for row in report["rows"]:
        base = direct[row["concurrency"]]
        proxied = row["row"] != DIRECT
        row["overhead_p50"] = row["p50"] - base["p50"] if proxied else None
        row["overhead_p99"] = row["p99"] - base["p99"] if proxied else None
    base_ttfb = next(entry["ms"] for entry in report["ttfb"] if entry["row"] == DIRECT)
    for entry in report["ttfb"]:
        entry["overhead_ms"] = entry["ms"] - base_ttfb if entry["row"] != DIRECT else None


def cell(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def markdown(report: dict) -> str:
    setup = report["setup"]
    nginx_setup = (
        f"nginx {setup['nginx']} with {setup['workers']} worker processes (keep-alive to the "
        "backend, no buffering), "
        if setup["nginx"]
        else ""
    )
    lines = [
        "# Gateway benchmark",
        "",
        f"`{setup['command']}` on {setup['cores']} cores, Python {setup['python']}; gunicorn with "
        f"{setup['workers']} uvicorn workers, {nginx_setup}the simulated upstream "
        "(`routing.fakeupstream`, one process, no added latency) and the load generator on the "
        "same machine. POST /v1/chat/completions (non-streamed, ~400-byte answer), keep-alive "
        f"connections, {setup['duration']:g} s measured per figure after a "
        f"{WARM_UP_SECONDS:g} s warm-up. `gateway (memory)` keeps shared state in each worker's "
        "memory, `gateway (redis)` in Redis (same gateway, same database).",
        "",
        *(line for note in report["skipped"].values() for line in (f"**{note}**", "")),
        "| row | concurrency | req/s | p50 ms | p99 ms | overhead p50 ms | overhead p99 ms "
        "| CPU/request ms | req/s per core | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    # Grouped by concurrency, so the rows to compare sit next to each other.
    for row in sorted(report["rows"], key=lambda row: row["concurrency"]):
        lines.append(
            f"| {row['row']} | {row['concurrency']} | {row['rps']:,.0f} | {row['p50']:.2f} | "
            f"{row['p99']:.2f} | {cell(row['overhead_p50'])} | {cell(row['overhead_p99'])} | "
            f"{cell(row['cpu_ms_per_request'], '.3f')} | {cell(row['rps_per_core'], ',.0f')} | "
            f"{row['errors']} |"
        )
    lines += [
        "",
        "Overheads are against `direct` at the same concurrency. *CPU/request* is the CPU time "
        "(user + system) of the proxy's processes during the measured phase (gunicorn: arbiter and "
        "workers; nginx: master and workers) divided by the requests served; *req/s per core* is "
        "requests served per second of that CPU time, what one core would sustain. The backend's "
        "and the load generator's CPU are not counted.",
        "",
        f"Streaming time to first byte (median of {setup['ttfb_repeats']}, concurrency 1):",
        "",
        "| row | TTFB ms | overhead ms |",
        "|---|---:|---:|",
        *(
            f"| {entry['row']} | {entry['ms']:.2f} | {cell(entry['overhead_ms'])} |"
            for entry in report["ttfb"]
        ),
    ]
    if report["neural"]:
        lines += [
            "",
            f"Neural routing, through `{report['neural'][0]['row']}`: `model: auto` on the "
            "`neural` chat service (the router embeds and scores the prompt, then picks a tier) "
            "against `fake-chat` served by name on the same service. The difference of the p50s "
            "is what the routing decision adds to a request.",
            "",
            "| concurrency | by name req/s | auto req/s | by name p50 ms | auto p50 ms "
            "| decision adds p50 ms | by name p99 ms | auto p99 ms | by name CPU/request ms "
            "| auto CPU/request ms |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for entry in report["neural"]:
            by_name, auto = entry["by_name"], entry["auto"]
            lines.append(
                f"| {entry['concurrency']} | {by_name['rps']:,.0f} | {auto['rps']:,.0f} | "
                f"{by_name['p50']:.2f} | {auto['p50']:.2f} | {auto['p50'] - by_name['p50']:.2f} | "
                f"{by_name['p99']:.2f} | {auto['p99']:.2f} | "
                f"{cell(by_name['cpu_ms_per_request'], '.3f')} | "
                f"{cell(auto['cpu_ms_per_request'], '.3f')} |"
            )
    lines += ["", "Resident memory per gateway worker at the end of its run:", ""]
    for name, sizes in report["worker_rss_mb"].items():
        lines.append(f"- {name}: " + ", ".join(f"{size:.0f} MB" for size in sizes))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per figure")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--ttfb-repeats", type=int, default=300)
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    parser.add_argument("--json", default=str(ROOT / "bench" / "RESULTS.json"))
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/13",
        help="Redis of the `gateway (redis)` row, shared state as a fleet would have it",
    )
    parser.add_argument("--no-redis", action="store_true", help="skip the `gateway (redis)` row")
    options = parser.parse_args()

    import uvloop

    nginx_binary = nginx.binary()
    report: dict = {
        "setup": {
            "command": shlex.join([".venv/bin/python", "bench/gateway.py", *sys.argv[1:]]),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "workers": options.workers,
            "nginx": nginx.version(nginx_binary) if nginx_binary else None,
            "duration": options.duration,
            "ttfb_repeats": options.ttfb_repeats,
        },
        # Rows left out, with why.
        "skipped": {},
        "rows": [],
        "ttfb": [],
        "neural": [],
        "worker_rss_mb": {},
    }
    if not nginx_binary:
        report["skipped"][NGINX] = "nginx not installed (apt-get install nginx): no reference row"
    redis_url = "" if options.no_redis else options.redis
    if options.no_redis:
        report["skipped"][REDIS] = "gateway (redis) skipped: --no-redis"
    elif problem := redis_problem(redis_url):
        report["skipped"][REDIS] = f"gateway (redis) skipped: {problem}"
        redis_url = ""
    for note in report["skipped"].values():
        print(note, flush=True)

    upstream_port = free_port()
    env = prepare(f"http://127.0.0.1:{upstream_port}")
    with (
        running(
            upstream_command(upstream_port),
            env=env,
            ready_url=f"http://127.0.0.1:{upstream_port}/health",
        ),
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        report["rows"] += proxy_rows(runner, DIRECT, upstream_port, options.duration, None)
        report["ttfb"].append(
            {"row": DIRECT, "ms": runner.run(ttfb(upstream_port, PATH, options.ttfb_repeats))}
        )
        if nginx_binary:
            with nginx.proxy(nginx_binary, upstream_port, options.workers) as (port, master):
                report["rows"] += proxy_rows(runner, NGINX, port, options.duration, master)
                report["ttfb"].append(
                    {"row": NGINX, "ms": runner.run(ttfb(port, PATH, options.ttfb_repeats))}
                )
        gateway_run(runner, report, MEMORY, env, options, neural=True)
        if redis_url:
            redis_env = overridden(env, REDIS_URL=redis_url)
            gateway_run(runner, report, REDIS, redis_env, options, neural=False)
    add_overheads(report)

    text = markdown(report)
    Path(options.out).write_text(text)
    Path(options.json).write_text(json.dumps(report, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
