"""Routing exemplars: past prompts of `neural` services, how the lightweight tier fared on them and
whether clients said the powerful tier was needed (the label the retraining job learns from).

The hot path never writes to the database: it pushes outcome events onto a shared-state list, and the
`routing.flush_routing_outcomes` job folds them into the `RoutingExemplar` rows (and keeps the most
recent decisions for the dashboard). An exemplar holds the prompt's embedding and statistics, never
its text.

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

OUTCOMES_KEY = "router:outcomes"
CLAIMS_KEY = "router:outcomes:claims"
# The most recent decisions (newest last), for the dashboard's router page.
RECENT_DECISIONS_KEY = "router:recent-decisions"
RECENT_DECISIONS = 50
# Claims are folded or recovered within a beat interval; the ledger only has to outlive them.
LEDGER_RETENTION = timedelta(days=1)
FloatArray = npt.NDArray[np.float32]


def prompt_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()


def outcome_event(
    *,
    service_type: str,
    text_hash: str,
    embedding: FloatArray | None,
    metadata: dict[str, Any],
    tier: str,
    success: bool,
    feedback: bool = False,
    stats: Sequence[float] = (),
    decision: dict[str, Any] | None = None,
    powerful_needed: bool | None = None,
) -> str:
    """`decision`: score, confidence and reason of a routed request; `powerful_needed`: a client's
    explicit verdict on whether the powerful tier was needed."""
    event: dict[str, Any] = {
        "service": service_type,
        "hash": text_hash,
        "metadata": metadata,
        "tier": tier,
        "success": success,
        "feedback": feedback,
    }
    if embedding is not None:
        event["embedding"] = base64.b64encode(embedding.astype("<f4").tobytes()).decode()
        event["stats"] = [round(float(v), 6) for v in stats]
    if decision is not None:
        event["decision"] = decision
    if powerful_needed is not None:
        event["need"] = powerful_needed
    return json.dumps(event, separators=(",", ":"))


def feedback_need(event: dict[str, Any]) -> bool | None:
    """What a feedback event says about the powerful tier: the explicit verdict when given, else a
    bad lightweight answer means it was needed and a good one that it was not."""
    need = event.get("need")
    if isinstance(need, bool):
        return need
    if event.get("tier") == "lightweight":
        return not event.get("success")
    return None


def _apply(events: Iterable[dict[str, Any]], services: dict[str, ServiceType]) -> None:
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
            need = feedback_need(event)
            if need is not None:
                exemplar.update(
                    verdicts=F("verdicts") + 1, need_votes=F("need_votes") + (1 if need else 0)
                )
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
                stats=np.asarray(event.get("stats") or [], dtype="<f4").tobytes(),
                metadata=event.get("metadata") or {},
                access_count=1,
                lightweight_attempts=1 if lightweight else 0,
                lightweight_successes=success,
            )


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
    with transaction.atomic():
        try:
            with transaction.atomic():
                FoldedOutcomeBatch.objects.create(claim_id=claim["id"], events=len(claim["events"]))
        except IntegrityError:
            pass  # folded already, by a run that died before letting go or by a concurrent one
        else:
            _apply(events, services)
            _evict(services.values())
    state.list_remove(CLAIMS_KEY, entry)
    _keep_recent(state, events)
    return len(claim["events"])


def _keep_recent(state: SharedState, events: Sequence[dict[str, Any]]) -> None:
    recent = [
        json.dumps({"service": e.get("service"), "tier": e.get("tier"), **e["decision"]})
        for e in events
        if isinstance(e.get("decision"), dict)
    ]
    if recent:
        state.list_push(RECENT_DECISIONS_KEY, *recent[-RECENT_DECISIONS:])
        state.list_trim(RECENT_DECISIONS_KEY, RECENT_DECISIONS)


def recent_decisions() -> list[dict[str, Any]]:
    """The last decisions folded, newest first."""
    rows = get_state().list_range(RECENT_DECISIONS_KEY, RECENT_DECISIONS)
    return [json.loads(row) for row in reversed(rows)]


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
