"""Generate the synthetic router training set `data/router/train.jsonl`.

    python data/router/generate.py [--rows 3000] [--seed 20240601] [--out data/router/train.jsonl]

Each row is one (query, candidate) pair drawn from a toy world and turned into the
router's five features by the same code the router serves with
(`routing.neural.features`), so training and serving cannot drift apart.

The world: a lightweight model answers well when the candidate is semantically close
to the query and has a good track record; recency, popularity and metadata agreement
help a little.  The label is a Bernoulli draw from that hidden success probability
(so even a perfect router cannot reach 100 % accuracy), and about half the rows carry
a `teacher_logit`, a noisy view of the hidden logit standing in for a larger router.
Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from routing.neural.features import candidate_features, metadata_overlaps

EMBEDDING_DIM = 32
NOW = 1_750_000_000.0  # fixed clock: the dataset must not depend on when it is generated
METADATA_KEYS = {
    "lang": ["en", "de", "fr"],
    "domain": ["code", "legal", "chat", "math"],
    "tier": ["free", "pro"],
}


def _candidate_embeddings(
    rng: np.random.Generator, query: np.ndarray, cosines: np.ndarray
) -> np.ndarray:
    """Unit vectors at exactly the requested cosine to the unit `query`."""
    noise = rng.normal(size=(cosines.size, query.size))
    noise -= np.outer(noise @ query, query)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    sines = np.sqrt(1.0 - cosines**2)
    return cosines[:, None] * query[None, :] + sines[:, None] * noise


def _metadata(rng: np.random.Generator) -> dict[str, str]:
    keys = [k for k in METADATA_KEYS if rng.uniform() < 0.7]
    return {k: str(rng.choice(METADATA_KEYS[k])) for k in keys}


def generate(rows: int, seed: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    query = rng.normal(size=EMBEDDING_DIM)
    query /= np.linalg.norm(query)
    related = rng.uniform(size=rows) < 0.5
    cosines = np.where(
        related, rng.uniform(0.55, 0.98, size=rows), rng.normal(0.05, 0.2, size=rows)
    ).clip(-0.95, 0.98)
    embeddings = _candidate_embeddings(rng, query, cosines).astype(np.float32)
    ages = rng.exponential(1500.0, size=rows)
    access = np.floor(rng.lognormal(2.5, 2.0, size=rows)).clip(0, 1e6)
    success = rng.beta(2.0, 1.5, size=rows)
    query_meta = [_metadata(rng) for _ in range(rows)]
    overlap = np.array(
        [metadata_overlaps(q, [_metadata(rng)])[0] for q in query_meta], dtype=np.float32
    )
    # Features are computed per row against that row's own query metadata; the query
    # embedding is shared, which is fine because only the cosine matters.
    features = candidate_features(
        query.astype(np.float32),
        embeddings,
        NOW - ages,
        access.astype(np.float32),
        success.astype(np.float32),
        overlap,
        now=NOW,
    )
    sim, recency, frequency, success_f, overlap_f = features.T.astype(np.float64)
    # Hidden logit of "the lightweight model's answer was accepted".
    hidden = (
        14.0 * sim
        + 12.0 * success_f
        + 4.0 * recency
        + 3.0 * frequency
        + 6.0 * overlap_f
        - 4.6
        + rng.normal(0.0, 0.4, size=rows)
    )
    labels = (rng.uniform(size=rows) < 1.0 / (1.0 + np.exp(-hidden))).astype(int)
    teacher = hidden + rng.normal(0.0, 0.5, size=rows)
    has_teacher = rng.uniform(size=rows) < 0.5

    out: list[dict[str, object]] = []
    for i in range(rows):
        row: dict[str, object] = {
            "features": [round(float(v), 6) for v in features[i]],
            "label": int(labels[i]),
        }
        if has_teacher[i]:
            row["teacher_logit"] = round(float(teacher[i]), 4)
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--out", default=str(Path(__file__).with_name("train.jsonl")))
    args = parser.parse_args(argv)
    rows = generate(args.rows, args.seed)
    with open(args.out, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, separators=(",", ":")) + "\n")
    positives = sum(int(r["label"] == 1) for r in rows)
    print(f"wrote {len(rows)} rows ({positives} positive) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
