"""Routing quality benchmark on labelled prompts (a script, not a test).

    python bench/routing_quality.py [--data FILE ...] [--model MODEL] [--png PNG] [--markdown MD]

Evaluates routers on the held-out fifth of `data/routing/` (`is_held_out`, never trained on),
separately per dataset, with RouteLLM's measures: sort prompts by the router's score (higher =
more likely to need the powerful tier), send the top share p to the strong model; PGR(p) is the
share of the strong model's accuracy gain over the weak one recovered; APGR is the area under
PGR(p) (trapezoid rule over p = k/n); CPT(x %) is the smallest share of strong calls with
PGR >= x % (`routing.neural.quality`; ties in a score count as random order).

Routers: random (constant score), prompt length, the previous design (candidate cell over the
8 nearest training exemplars, score = -best confidence) and the new prompt scorer.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.router import measure
from routing.neural.embedding import HashingEmbedder
from routing.neural.prompt_model import PromptModel, load_prompt_model
from routing.neural.prompt_training import LabelledPrompt, is_held_out, load_labelled
from routing.neural.quality import apgr, cpt, pgr_curve
from routing.neural.route_request import CandidateBatch
from routing.neural.router import Router, RouterConfig

F64 = npt.NDArray[np.float64]
ROOT = Path(__file__).resolve().parents[1]
DATA = ["data/routing/mmlu-train.jsonl", "data/routing/gsm8k-train.jsonl"]
CANDIDATES_MODEL = "models/candidates.safetensors"
NEIGHBOURS = 8
NOW = 1_750_000_000.0


def dataset_of(row: LabelledPrompt) -> str:
    return "gsm8k" if row.domain == "gsm8k" else row.id.split("-", 1)[0]


def previous_design_scores(held: Sequence[LabelledPrompt], train: Sequence[LabelledPrompt]) -> F64:
    """-max confidence of the candidate cell over each prompt's nearest training exemplars."""
    router = Router(
        RouterConfig(model_path=str(ROOT / CANDIDATES_MODEL), enable_circuit_breaker=False)
    )
    if router.load_error:
        raise SystemExit(f"cannot load {CANDIDATES_MODEL}: {router.load_error}")
    embedder = HashingEmbedder(256)
    bank = np.stack([embedder.embed(r.prompt) for r in train])
    success = np.array([1.0 - r.need for r in train], dtype=np.float32)
    created, access = np.full(NEIGHBOURS, NOW), np.ones(NEIGHBOURS, dtype=np.float32)
    scores = np.empty(len(held))
    for i, row in enumerate(held):
        query = embedder.embed(row.prompt)
        nearest = np.argpartition(-(bank @ query), NEIGHBOURS)[:NEIGHBOURS]
        batch = CandidateBatch.from_arrays(
            [train[j].id for j in nearest], bank[nearest], created, access, success[nearest]
        )
        route = router.rank(query, batch, now=NOW)
        if route.fallback:
            raise SystemExit(f"previous design fell back to the powerful tier: {route.fallback}")
        scores[i] = -float(route.decisions.confidence.max())
    return scores


def decision_time(model: PromptModel, texts: Sequence[str]) -> tuple[float, float]:
    """(p50, p99) of one `model.score(text)` call over the texts, in microseconds."""
    prompts = itertools.cycle(texts)
    return measure(lambda: model.score(next(prompts)), len(texts))


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    return lines


def plot(curves: dict[str, dict[str, F64]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(10, 4), squeeze=False)
    for ax, (name, by_router) in zip(axes[0], curves.items(), strict=True):
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        for router, curve in by_router.items():
            ax.plot(np.linspace(0.0, 1.0, len(curve)), curve, label=f"{router} ({apgr(curve):.3f})")
        ax.set_title(f"{name} (held out, n = {len(curve) - 1})")
        ax.set_xlabel("share of calls to the powerful tier")
        ax.set_ylabel("PGR")
        ax.set_xlim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title="router (APGR)", title_fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Routing quality on held-out labelled prompts")
    parser.add_argument("--data", nargs="+", default=DATA)
    parser.add_argument("--model", default="models/fastgrnn.safetensors")
    parser.add_argument("--png", default="docs/routing-quality.png")
    parser.add_argument("--markdown", default="bench/ROUTING-QUALITY.md")
    args = parser.parse_args(argv)

    rows = load_labelled([ROOT / p for p in args.data])
    held = [r for r in rows if is_held_out(r.id)]
    train = [r for r in rows if not is_held_out(r.id)]
    model = load_prompt_model(ROOT / args.model)
    texts = [r.prompt for r in held]
    scores: dict[str, F64] = {
        "random": np.zeros(len(held)),
        "prompt length": np.array([len(t) for t in texts], dtype=np.float64),
        "previous (candidate cell, 8 exemplars)": previous_design_scores(held, train),
        "new (prompt scorer)": model.score_many(texts).astype(np.float64),
    }
    load = os.getloadavg()[0]
    p50, p99 = decision_time(model, texts)

    command = shlex.join(
        [
            *("python", "bench/routing_quality.py", "--data", *args.data),
            *("--model", args.model, "--png", args.png, "--markdown", args.markdown),
        ]
    )
    lines = [
        f"Reproduce from the repository root: `{command}`",
        "",
        f"numpy {np.__version__}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average {load:.1f} at the start of timing",
        "",
    ]
    curves: dict[str, dict[str, F64]] = {}
    for name in sorted({dataset_of(r) for r in held}, key=lambda d: (d != "mmlu", d)):
        index = np.array([i for i, r in enumerate(held) if dataset_of(r) == name])
        weak = np.array([held[i].weak for i in index], dtype=np.float64)
        strong = np.array([held[i].strong for i in index], dtype=np.float64)
        curves[name] = {k: pgr_curve(s[index], weak, strong) for k, s in scores.items()}
        lines += [
            f"## {name}: {len(index)} held-out prompts, "
            f"weak accuracy {weak.mean():.3f}, strong accuracy {strong.mean():.3f}",
            "",
            *table(
                ("router", "APGR", "CPT(50%)", "CPT(80%)"),
                [
                    (k, f"{apgr(c):.3f}", f"{cpt(c, 0.5):.1%}", f"{cpt(c, 0.8):.1%}")
                    for k, c in curves[name].items()
                ],
            ),
            "",
        ]
    lines.append(
        f"New router decision time per prompt (`PromptModel.score`: embedding + features + cell, "
        f"{len(texts)} held-out prompts, gc paused): p50 {p50:.1f} µs, p99 {p99:.1f} µs"
    )
    print("\n".join(lines))
    markdown = ROOT / args.markdown
    markdown.write_text("# Routing quality\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
    plot(curves, ROOT / args.png)
    print(f"\nwrote {args.markdown} and {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
