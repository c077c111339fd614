"""Routing exemplars: past prompts of `neural` services and how the lightweight tier fared on them.

The hot path never writes to the database: it pushes outcome events onto a shared-state list, and the
`routing.flush_routing_outcomes` job folds them into the `RoutingExemplar` rows, then bumps the
exemplar generation so every worker reloads its in-memory index.

Each event is folded exactly once, whatever happens to the job. A run *claims* a batch: one atomic
step moves it from the queue onto the list of claims, as one entry with a fresh claim id. The fold
and a `FoldedOutcomeBatch` row for that id commit together; then the claim is let go. A run that
dies (its worker killed) leaves its claim behind, and the next run folds it, unless the ledger says
it was folded before the run died. Two runs holding one claim meet on the ledger's unique id.
"""

import base64
import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from routerproject.state import AtomicScript, SharedState, get_state

from .models import FoldedOutcomeBatch, RoutingExemplar, ServiceType
from .neural.features import metadata_overlaps
from .neural.request import CandidateBatch

OUTCOMES_KEY = "router:outcomes"
CLAIMS_KEY = "router:outcomes:claims"
EXEMPLARS_GENERATION_KEY = "router:exemplars-generation"
# Claims are folded or recovered within a beat interval; the ledger only has to outlive them.
LEDGER_RETENTION = timedelta(days=1)
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


def _claim_in_memory(
    values: list[Any], args: Sequence[Any], now: float
) -> tuple[list[str], list[Any], float | None]:
    queued, claims = values
    items = list(queued) if isinstance(queued, list) else []
    taken = items[: int(args[0])]
    if not taken:
        return [], [queued, claims], None
    entry = json.dumps({"id": str(args[1]), "events": taken})
    return [entry], [items[len(taken) :], [*(claims or []), entry]], None


# KEYS: the queue, the claims; ARGV[2]: batch size, ARGV[3]: claim id. Returns {entry} or {}.
CLAIM_OUTCOMES = AtomicScript(
    name="claim_outcomes",
    lua="""
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
if #items == 0 then return {} end
redis.call('LTRIM', KEYS[1], #items, -1)
local entry = cjson.encode({id = ARGV[3], events = items})
redis.call('RPUSH', KEYS[2], entry)
return {entry}
""",
    memory=_claim_in_memory,
)


def _fold(state: SharedState, entry: str) -> int:
    """Fold one claim (unless the ledger says it was) and let it go; returns its event count."""
    claim = json.loads(entry)
    events = []
    for item in claim["events"]:
        try:
            events.append(json.loads(item))
        except ValueError:
            continue
    services = {s.name: s for s in ServiceType.objects.all()}
    touched = 0
    with transaction.atomic():
        try:
            with transaction.atomic():
                FoldedOutcomeBatch.objects.create(claim_id=claim["id"], events=len(claim["events"]))
        except IntegrityError:
            pass  # folded already, by a run that died before letting go or by a concurrent one
        else:
            touched = _apply(events, services)
            _evict(services.values())
    state.list_remove(CLAIMS_KEY, entry)
    if touched:
        state.incr(EXEMPLARS_GENERATION_KEY)
    return len(claim["events"])


def flush_outcomes(*, batch: int = 1000) -> int:
    """Claim up to `batch` queued outcomes and fold them into the exemplars; returns how many."""
    state = get_state()
    claimed = state.run_script(
        CLAIM_OUTCOMES, [OUTCOMES_KEY, CLAIMS_KEY], [batch, uuid.uuid4().hex]
    )
    return _fold(state, claimed[0]) if claimed else 0


def recover_claims() -> int:
    """Fold the claims that runs left behind (their worker died); returns how many events. A claim
    another run is folding right now is waited for on the ledger's row, then let go."""
    state = get_state()
    FoldedOutcomeBatch.objects.filter(folded_at__lt=timezone.now() - LEDGER_RETENTION).delete()
    return sum(_fold(state, entry) for entry in state.list_range(CLAIMS_KEY, 10_000))
