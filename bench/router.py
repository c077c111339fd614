"""Neural router latency benchmark (a script, not a test).

    python bench/router.py [--repeats 20000] [--seed 0]

Table 1, decision latency: one routing decision = features + FastGRNN + decision rule
+ ranking for N candidates with 384-dimensional embeddings, via `Router.rank` on a
prepared `CandidateBatch` (candidate norms cached with the batch).  Two further rows
show what surrounds it: building the batch from arrays (norms included), and the full
`Router.route` from a JSON-shaped request (list -> array conversion, metadata overlap,
response objects).

Table 2, inference only: the fused scoring kernel for a 5->8 and a 128->64 cell, float
and int8-quantized weights, called once per candidate ("single") or once for the whole
batch ("batched"), in microseconds per candidate.

Each figure is the median and 99th percentile over `--repeats` timed calls, with the
garbage collector paused during timing.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from routing.neural.fastgrnn import FastGRNNConfig, initialize
from routing.neural.model_holder import prepare_model
from routing.neural.route_request import CandidateBatch
from routing.neural.router import Router, RouterConfig

DIMENSION = 384
NOW = 1_750_000_000.0
MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "candidates.safetensors"


def measure(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median, p99) wall time of one call, in microseconds."""
    for _ in range(min(repeats // 10, 1000)):
        fn()
    samples = []
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for _ in range(repeats):
            start = clock()
            fn()
            samples.append(clock() - start)
    finally:
        gc.enable()
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))]
    return statistics.median(samples) / 1000.0, p99 / 1000.0


def _columns(rng: np.random.Generator, n: int) -> dict[str, Any]:
    return {
        "ids": [f"cand-{i}" for i in range(n)],
        "embeddings": rng.normal(size=(n, DIMENSION)).astype(np.float32),
        "created_at": NOW - rng.exponential(3600.0, size=n),
        "access_count": rng.integers(0, 5000, size=n).astype(np.float32),
        "success_rate": rng.uniform(size=n).astype(np.float32),
        "overlap": rng.uniform(size=n).astype(np.float32),
    }


def _request(columns: dict[str, Any], query: np.ndarray) -> dict[str, Any]:
    return {
        "query_embedding": query.tolist(),
        "metadata": {"lang": "en", "domain": "code"},
        "candidates": [
            {
                "id": columns["ids"][i],
                "embedding": columns["embeddings"][i].tolist(),
                "metadata": {"lang": "en"} if i % 2 else {"domain": "code"},
                "created_at": float(columns["created_at"][i]),
                "access_count": int(columns["access_count"][i]),
                "success_rate": float(columns["success_rate"][i]),
            }
            for i in range(len(columns["ids"]))
        ],
    }


def decision_table(router: Router, repeats: int, seed: int) -> list[tuple[str, ...]]:
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, ...]] = []
    for n in (10, 50, 100):
        cols = _columns(rng, n)
        query = rng.normal(size=DIMENSION).astype(np.float32)
        batch = CandidateBatch.from_arrays(
            cols["ids"],
            cols["embeddings"],
            cols["created_at"],
            cols["access_count"],
            cols["success_rate"],
            cols["overlap"],
        )
        request = _request(cols, query)
        cases: list[tuple[str, Callable[[], object], int]] = [
            ("rank (features+model+sort)", partial(router.rank, query, batch, now=NOW), repeats),
            (
                "batch build (norms, columns)",
                partial(
                    CandidateBatch.from_arrays,
                    cols["ids"],
                    cols["embeddings"],
                    cols["created_at"],
                    cols["access_count"],
                    cols["success_rate"],
                    cols["overlap"],
                ),
                repeats,
            ),
            (
                "route() from JSON-shaped dict",
                partial(router.route, request, now=NOW),
                max(repeats // 10, 200),
            ),
        ]
        for label, fn, count in cases:
            median, p99 = measure(fn, count)
            rows.append((str(n), label, f"{median:.1f}", f"{p99:.1f}", f"{median / n:.2f}"))
    return rows


def inference_table(repeats: int, seed: int, batch_size: int) -> list[tuple[str, ...]]:
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, ...]] = []
    for input_dim, hidden_dim in ((5, 8), (128, 64)):
        model = initialize(FastGRNNConfig(input_dim=input_dim, hidden_dim=hidden_dim), seed=seed)
        features = rng.uniform(size=(batch_size, input_dim)).astype(np.float32)
        singles = [features[i : i + 1] for i in range(batch_size)]
        for quantized in (False, True):
            kernel = prepare_model(model, quantize=quantized).kernel

            def one_by_one(k: Any = kernel, rows: list[np.ndarray] = singles) -> None:
                for row in rows:
                    k.score(row)

            single, single_p99 = measure(one_by_one, max(repeats // batch_size, 200))
            batched, batched_p99 = measure(partial(kernel.score, features), repeats)
            rows.append(
                (
                    f"{input_dim}->{hidden_dim}",
                    "int8" if quantized else "float32",
                    f"{single / batch_size:.2f}",
                    f"{single_p99 / batch_size:.2f}",
                    f"{batched / batch_size:.3f}",
                    f"{batched_p99 / batch_size:.3f}",
                    f"{single / batched:.0f}x",
                )
            )
    return rows


def print_table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Neural router latency benchmark")
    parser.add_argument("--repeats", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=100, help="for the inference table")
    args = parser.parse_args(argv)

    router = Router(RouterConfig(model_path=str(MODEL_PATH)))
    if router.load_error:
        print(f"cannot load {MODEL_PATH}: {router.load_error}", file=sys.stderr)
        return 1
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}, model {MODEL_PATH.name}")
    print_table(
        f"Decision latency, {DIMENSION}-d embeddings "
        "(us per decision; targets: 10 -> 25, 100 -> 60)",
        ("N", "path", "median us", "p99 us", "median us/candidate"),
        decision_table(router, args.repeats, args.seed),
    )
    print_table(
        f"Inference only, fused kernel, {args.batch_size} candidates (us per candidate)",
        (
            "cell",
            "weights",
            "single median",
            "single p99",
            "batched median",
            "batched p99",
            "speed-up",
        ),
        inference_table(args.repeats, args.seed, args.batch_size),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
