"""Cost of one shared-state operation, memory against Redis (the hot path pays it per request).

    .venv/bin/python bench/state.py [--redis redis://127.0.0.1:6379/15] [-n 20000]

Prints ops/s, p50 and p99 per operation; figures are only comparable within one run.
"""

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from routerproject.state.memory import MemoryState
from routerproject.state.redis import RedisState


def _report(label: str, samples: list[float]) -> None:
    samples.sort()
    p50 = samples[len(samples) // 2] * 1e6
    p99 = samples[int(len(samples) * 0.99)] * 1e6
    rate = len(samples) / sum(samples)
    print(f"| {label:<28} | {rate:>12,.0f} | {p50:>8.1f} | {p99:>8.1f} |")


def _time_sync(op: Callable[[], object], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        op()
        samples.append(time.perf_counter() - start)
    return samples


async def _time_async(op: Callable[[], Awaitable[object]], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await op()
        samples.append(time.perf_counter() - start)
    return samples


def bench(state: MemoryState | RedisState, n: int) -> None:
    name = state.backend_name
    state.set("k", "value")
    _report(f"{name} get", _time_sync(lambda: state.get("k"), n))
    _report(f"{name} incr", _time_sync(lambda: state.incr("c"), n))
    _report(f"{name} set_contains", _time_sync(lambda: state.set_contains("s", "m"), n))
    _report(f"{name} aget", asyncio.run(_time_async(lambda: state.aget("k"), n)))
    _report(f"{name} aincr", asyncio.run(_time_async(lambda: state.aincr("c"), n)))
    state.clear()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("-n", type=int, default=20_000)
    args = parser.parse_args()
    print(f"| {'operation':<28} | {'ops/s':>12} | {'p50 µs':>8} | {'p99 µs':>8} |")
    print(f"|{'-' * 30}|{'-' * 14}|{'-' * 10}|{'-' * 10}|")
    bench(MemoryState(), args.n)
    redis_state = RedisState(args.redis, prefix=f"bench:{uuid.uuid4().hex}:")
    if redis_state.ping():
        bench(redis_state, args.n)
    else:
        print(f"(Redis at {args.redis} did not answer: skipped)")


if __name__ == "__main__":
    main()
