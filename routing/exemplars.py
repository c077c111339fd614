"""Routing exemplars: past prompts of `neural` services and how the lightweight tier fared on them.

The hot path never writes to the database: it pushes outcome events onto a shared-state list, and the
`routing.flush_routing_outcomes` job folds them into the `RoutingExemplar` rows, then bumps the
exemplar generation so every worker reloads its in-memory index.
"""

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db import transaction
from django.db.models import F

from routerproject.state import get_state

from .models import RoutingExemplar, ServiceType
from .neural.features import metadata_overlaps
from .neural.request import CandidateBatch

OUTCOMES_KEY = "router:outcomes"
EXEMPLARS_GENERATION_KEY = "router:exemplars-generation"
FloatArray = npt.NDArray[np.float32]


def prompt_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()


@dataclass(frozen=True)
class ExemplarIndex:
    """One service's exemplars as arrays, for nearest-neighbour lookup (rows are unit vectors)."""

    service_type: str
    hashes: tuple[str, ...]
    matrix: FloatArray  # [N, D]
    created_at: npt.NDArray[np.float64]
    access_count: FloatArray
    success_rate: FloatArray
    metadata: tuple[dict[str, Any], ...]

    def __len__(self) -> int:
        return len(self.hashes)

    def nearest(
        self, query: FloatArray, k: int, metadata: dict[str, Any] | None = None
    ) -> CandidateBatch | None:
        if not len(self) or query.shape[0] != self.matrix.shape[1]:
            return None
        scores = self.matrix @ query
        top = np.argpartition(-scores, k - 1)[:k] if len(self) > k else np.arange(len(self))
        return CandidateBatch.from_arrays(
            [self.hashes[i] for i in top],
            self.matrix[top],
            self.created_at[top],
            self.access_count[top],
            self.success_rate[top],
            metadata_overlaps(metadata or {}, [self.metadata[i] for i in top]),
        )


def build_indexes(dimensions: int) -> dict[str, ExemplarIndex]:
    indexes: dict[str, ExemplarIndex] = {}
    rows = RoutingExemplar.objects.select_related("service_type").order_by("service_type_id", "id")
    grouped: dict[str, list[RoutingExemplar]] = {}
    for row in rows:
        grouped.setdefault(row.service_type.name, []).append(row)
    for name, group in grouped.items():
        vectors = [np.frombuffer(bytes(r.embedding), dtype="<f4") for r in group]
        usable = [(r, v) for r, v in zip(group, vectors, strict=True) if v.shape[0] == dimensions]
        if not usable:
            continue
        indexes[name] = ExemplarIndex(
            service_type=name,
            hashes=tuple(r.prompt_hash for r, _ in usable),
            matrix=np.stack([v for _, v in usable]).astype(np.float32),
            created_at=np.array([r.created_at.timestamp() for r, _ in usable], dtype=np.float64),
            access_count=np.array([r.access_count for r, _ in usable], dtype=np.float32),
            success_rate=np.array([r.success_rate for r, _ in usable], dtype=np.float32),
            metadata=tuple(r.metadata for r, _ in usable),
        )
    return indexes


def outcome_event(
    *,
    service_type: str,
    text_hash: str,
    embedding: FloatArray | None,
    metadata: dict[str, Any],
    tier: str,
    success: bool,
    feedback: bool = False,
) -> str:
    event = {
        "service": service_type,
        "hash": text_hash,
        "metadata": metadata,
        "tier": tier,
        "success": success,
        "feedback": feedback,
    }
    if embedding is not None:
        event["embedding"] = base64.b64encode(embedding.astype("<f4").tobytes()).decode()
    return json.dumps(event, separators=(",", ":"))


def _apply(events: Iterable[dict[str, Any]], services: dict[str, ServiceType]) -> int:
    touched = 0
    for event in events:
        service = services.get(event.get("service", ""))
        if service is None:
            continue
        exemplar = RoutingExemplar.objects.filter(service_type=service, prompt_hash=event["hash"])
        lightweight = event.get("tier") == "lightweight"
        if event.get("feedback"):
            # A client's verdict corrects the upstream's: a 200 that was a bad answer.
            if lightweight and not event.get("success"):
                exemplar.filter(lightweight_successes__gt=0).update(
                    lightweight_successes=F("lightweight_successes") - 1
                )
                touched += 1
            continue
        success = 1 if lightweight and event.get("success") else 0
        updated = exemplar.update(
            access_count=F("access_count") + 1,
            lightweight_attempts=F("lightweight_attempts") + (1 if lightweight else 0),
            lightweight_successes=F("lightweight_successes") + success,
        )
        if not updated and event.get("embedding"):
            RoutingExemplar.objects.create(
                service_type=service,
                prompt_hash=event["hash"],
                embedding=base64.b64decode(event["embedding"]),
                metadata=event.get("metadata") or {},
                access_count=1,
                lightweight_attempts=1 if lightweight else 0,
                lightweight_successes=success,
            )
        touched += 1
    return touched


def _evict(services: Iterable[ServiceType]) -> None:
    limit = settings.NEURAL_MAX_EXEMPLARS
    for service in services:
        stale = RoutingExemplar.objects.filter(service_type=service).order_by("-updated_at")[limit:]
        ids = list(stale.values_list("id", flat=True))
        if ids:
            RoutingExemplar.objects.filter(id__in=ids).delete()


def flush_outcomes(*, batch: int = 1000) -> int:
    """Fold up to `batch` queued outcomes into the exemplars; returns how many were taken."""
    state = get_state()
    raw = state.list_drain(OUTCOMES_KEY, batch)
    if not raw:
        return 0
    events = []
    for item in raw:
        try:
            events.append(json.loads(item))
        except ValueError:
            continue
    services = {s.name: s for s in ServiceType.objects.all()}
    with transaction.atomic():
        touched = _apply(events, services)
        _evict(services.values())
    if touched:
        state.incr(EXEMPLARS_GENERATION_KEY)
    return len(raw)
