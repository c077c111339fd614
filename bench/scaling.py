"""Capacity per worker count: the gateway with 1, 2 and 4 gunicorn workers, state in memory and in Redis.

    .venv/bin/python bench/scaling.py [--duration 4] [--workers 1,2,4] [--concurrency 64]
                                      [--rounds 1] [--out bench/RESULTS-scaling.md]

Reuses bench/gateway.py (same seeded database, production settings, simulated upstream and load
generator). For each state backend and worker count it starts gunicorn, warms it up, then measures
concurrency 1 (the gateway's own cost: overhead p50 = gateway p50 - direct p50) and --concurrency
(throughput, p50, p99). During the saturated run it reads the CPU time of every process from /proc
(gateway workers, upstream, Redis, the load generator) and, for Redis, the commands it processed,
so the table says where the time went. Redis is a private `redis-server` on a free port (no other
traffic to count, nothing left behind). Figures are comparable only within one run:
the load generator, the upstream, Redis and the gateway share the machine.
"""

import argparse
import asyncio
import os
import platform
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import gateway as bench  # noqa: E402
import redis  # noqa: E402

from tests.processes import free_port, running, wait_for_http  # noqa: E402

PATH = "/v1/chat/completions"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    state: str
    workers: int
    rps: float
    p50: float
    p99: float
    overhead_p50: float  # at concurrency 1
    cpu: dict[str, float]  # share of one core per component during the saturated run
    redis_per_request: float | None


def cpu_seconds(pid: int) -> float:
    # /proc/<pid>/stat: utime and stime are fields 14 and 15, after the parenthesised name.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def machine_busy_seconds() -> float:
    """CPU time every core of the machine spent busy (first line of /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICKS


def self_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


@contextmanager
def private_redis() -> Iterator[tuple[str, int]]:
    """A throwaway redis-server (no persistence) on a free port; yields its URL and pid."""
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is not installed: pass --redis URL")
    port = free_port()
    command = [
        server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    with running(command, env=dict(os.environ)) as process:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", process.pid


def redis_commands(client: redis.Redis) -> int:
    """Commands the server has processed (a reading counts the previous reading's INFO)."""
    return int(client.info("stats")["total_commands_processed"])


def measure(
    runner: asyncio.Runner,
    env: dict[str, str],
    *,
    state: str,
    workers: int,
    upstream_pid: int,
    direct_p50: float,
    options: argparse.Namespace,
    redis_server: tuple[str, int] | None,
) -> Row:
    port = free_port()
    with running(bench.gunicorn_command(port, workers), env=env) as arbiter:
        wait_for_http(f"http://127.0.0.1:{port}/health", arbiter)
        # Warm-up on as many connections as the measurement, so every worker has its
        # live configuration, key cache and upstream pool before the clock starts.
        runner.run(bench.load(port, PATH, bench.CHAT_BODY, options.concurrency, 1.0))
        single = runner.run(bench.load(port, PATH, bench.CHAT_BODY, 1, options.duration))
        pids = {"gateway": children(arbiter.pid), "upstream": [upstream_pid]}
        if redis_server:
            pids["redis"] = [redis_server[1]]
        before = {name: sum(cpu_seconds(p) for p in group) for name, group in pids.items()}
        before["load generator"] = self_cpu_seconds()
        before["machine"] = machine_busy_seconds()
        counter = redis.Redis.from_url(redis_server[0]) if redis_server else None
        commands = redis_commands(counter) if counter else 0
        started = time.perf_counter()
        saturated = runner.run(
            bench.load(port, PATH, bench.CHAT_BODY, options.concurrency, options.duration)
        )
        elapsed = time.perf_counter() - started
        after = {name: sum(cpu_seconds(p) for p in group) for name, group in pids.items()}
        after["load generator"] = self_cpu_seconds()
        after["machine"] = machine_busy_seconds()
        per_request = None
        if counter:
            per_request = (redis_commands(counter) - commands - 1) / saturated["count"]
            counter.close()
    return Row(
        state=state,
        workers=workers,
        rps=saturated["rps"],
        p50=saturated["p50"],
        p99=saturated["p99"],
        overhead_p50=single["p50"] - direct_p50,
        cpu={name: (after[name] - before[name]) / elapsed for name in after},
        redis_per_request=per_request,
    )


def table(rows: list[Row], concurrency: int) -> list[str]:
    lines = [
        f"| state | workers | req/s (c={concurrency}) | vs 1 worker | p50 ms | p99 ms | overhead p50 ms (c=1) "
        "| gateway CPU ms/request | req/s per gateway core "
        "| CPU gateway | CPU upstream | CPU Redis | CPU load generator | CPU others | Redis commands/request |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base: dict[str, float] = {}
    for row in rows:
        base.setdefault(row.state, row.rps)
        redis_cpu = f"{row.cpu['redis']:.2f}" if "redis" in row.cpu else "-"
        commands = f"{row.redis_per_request:.1f}" if row.redis_per_request is not None else "-"
        ours = sum(v for k, v in row.cpu.items() if k != "machine")
        others = max(0.0, row.cpu["machine"] - ours)
        lines.append(
            f"| {row.state} | {row.workers} | {row.rps:,.0f} | {row.rps / base[row.state]:.2f} | "
            f"{row.p50:.2f} | {row.p99:.2f} | {row.overhead_p50:.2f} | "
            f"{row.cpu['gateway'] / row.rps * 1000:.2f} | {row.rps / row.cpu['gateway']:,.0f} | "
            f"{row.cpu['gateway']:.2f} | "
            f"{row.cpu['upstream']:.2f} | {redis_cpu} | {row.cpu['load generator']:.2f} | {others:.2f} | "
            f"{commands} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--workers", default="1,2,4", help="comma-separated worker counts")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--rounds", type=int, default=1, help="measure each configuration N times, keep the median"
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS-scaling.md"))
    options = parser.parse_args()
    worker_counts = [int(n) for n in options.workers.split(",")]

    import uvloop

    load_before = os.getloadavg()
    upstream_port = free_port()
    upstream_env = dict(os.environ)
    with (
        running(
            bench.upstream_command(upstream_port),
            env=upstream_env,
            ready_url=f"http://127.0.0.1:{upstream_port}/health",
        ) as upstream,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        direct = runner.run(bench.load(upstream_port, PATH, bench.CHAT_BODY, 1, options.duration))
        print(f"direct upstream, concurrency 1: p50 {direct['p50']:.3f} ms", flush=True)
        with private_redis() as redis_server:
            setups = {}  # state -> (environment, client key)
            for state, redis_url in (("memory", ""), ("redis", redis_server[0])):
                env = bench.prepare(f"http://127.0.0.1:{upstream_port}", redis_url=redis_url)
                setups[state] = (env, bench.API_KEY)
            # Rounds interleave the configurations, so a burst of other work on the machine
            # lands on all of them rather than on one.
            runs: dict[tuple[str, int], list[Row]] = {}
            for _ in range(options.rounds):
                for state, (env, api_key) in setups.items():
                    bench.API_KEY = api_key
                    for workers in worker_counts:
                        row = measure(
                            runner,
                            env,
                            state=state,
                            workers=workers,
                            upstream_pid=upstream.pid,
                            direct_p50=direct["p50"],
                            options=options,
                            redis_server=redis_server if state == "redis" else None,
                        )
                        runs.setdefault((state, workers), []).append(row)
                        print(row, flush=True)
            for env, _ in setups.values():
                shutil.rmtree(env["ROUTER_VAR_DIR"], ignore_errors=True)
    # The median round of each configuration, by throughput.
    rows = [sorted(group, key=lambda r: r.rps)[len(group) // 2] for group in runs.values()]
    load_after = os.getloadavg()

    command = (
        f".venv/bin/python bench/scaling.py --duration {options.duration:g} "
        f"--workers {options.workers} --concurrency {options.concurrency} --rounds {options.rounds}"
    )
    lines = [
        "# Gateway capacity per worker count",
        "",
        f"`{command}` on {os.cpu_count()} cores, Python {platform.python_version()}, one run "
        f"(each row the median of {options.rounds} interleaved rounds, by req/s). "
        "gunicorn with uvicorn workers, production settings, POST /v1/chat/completions "
        "(non-streamed, ~400-byte answer) on keep-alive connections; the simulated upstream (one "
        "process), Redis (a private server, no persistence) and the load generator (one process) "
        "share the machine. Load average (1 min) "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after (the benchmark's own load "
        "included; the *CPU others* column shows what other work took).",
        "",
        f"Direct to the upstream at concurrency 1: p50 {direct['p50']:.2f} ms.",
        "CPU columns: cores used on average during the saturated run (1.00 = one core busy); "
        "*others* is every other process on the machine (other work, the kernel's share not "
        "charged to a process). *gateway CPU ms/request* is the gateway workers' CPU time divided "
        "by the requests they served: it depends far less on what else runs than req/s does.",
        "",
        *table(rows, options.concurrency),
        "",
    ]
    Path(options.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
