"""The neural router of this process, as the gateway and the operations API use it.

It is rebuilt when its settings change (part of the live configuration) or when an operator asks
for a reload; its breaker is reset when an operator asks. Both requests reach every worker through
counters in shared state, checked at most every LIVE_CONFIG_CHECK_INTERVAL. The exemplar index is
reloaded the same way when the outcome job has changed the exemplars. While the shared state cannot
be read the router in hand is kept, and outcomes are dropped (they only teach the router).
"""

import logging
import random
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from asgiref.sync import sync_to_async
from django.conf import settings

from monitoring import metrics
from routerproject.state import STATE_ERRORS, get_state, log_degraded

from .exemplars import (
    EXEMPLARS_GENERATION_KEY,
    OUTCOMES_KEY,
    ExemplarIndex,
    build_indexes,
    outcome_event,
    prompt_hash,
)
from .neural.circuit_breaker import tripped
from .neural.embedding import HashingEmbedder
from .neural.router import Router
from .service_types import Tier
from .snapshot import RouterSpec

RELOAD_KEY = "router:reload-generation"
# Fallback reasons that are failures of the model itself (counted as tiny_dancer errors).
MODEL_ERRORS = frozenset({"non_finite_score", "model_error"})
BREAKER_RESET_KEY = "router:breaker-reset-generation"
_COUNTERS = (RELOAD_KEY, BREAKER_RESET_KEY, EXEMPLARS_GENERATION_KEY)
logger = logging.getLogger(__name__)


def resolve_model_path(path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else Path(settings.BASE_DIR) / candidate


def display_model_path(path: str) -> str:
    """A model file as operators configure it: relative to the project when it lies inside it."""
    try:
        return "./" + str(Path(path).relative_to(Path(settings.BASE_DIR)))
    except ValueError:
        return path


@dataclass(frozen=True)
class NeuralDecision:
    tier: str  # Tier.LIGHTWEIGHT or Tier.POWERFUL
    confidence: float
    uncertainty: float
    reason: str  # "model", "explore", "no_exemplars", or the router's fallback reason
    service_type: str
    text_hash: str
    embedding: Any = field(repr=False)
    metadata: dict[str, Any] = field(default_factory=dict)


class RouterRuntime:
    def __init__(self) -> None:
        self.router: Router | None = None
        self.spec: RouterSpec | None = None
        self.loaded_at: float | None = None
        self._embedder = HashingEmbedder(settings.NEURAL_EMBEDDING_DIMENSIONS)
        self.indexes: dict[str, ExemplarIndex] = {}
        self._seen: dict[str, int] = {}
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def embedder(self) -> HashingEmbedder:
        if self._embedder.dimensions != settings.NEURAL_EMBEDDING_DIMENSIONS:
            self._embedder = HashingEmbedder(settings.NEURAL_EMBEDDING_DIMENSIONS)
        return self._embedder

    # -- keeping up with the fleet -------------------------------------------------------------

    def _build(self, spec: RouterSpec) -> None:
        self.router = Router(replace(spec, model_path=str(resolve_model_path(spec.model_path))))
        self.spec = spec
        self.loaded_at = time.time()

    def _sync(self, spec: RouterSpec, generations: dict[str, int]) -> None:
        """Bring this process up to date with the settings and the fleet's counters."""
        with self._lock:
            if (
                self.router is None
                or spec != self.spec
                or generations[RELOAD_KEY] != self._seen.get(RELOAD_KEY)
            ):
                self._build(spec)
            elif generations[BREAKER_RESET_KEY] != self._seen.get(BREAKER_RESET_KEY):
                self.router.reset_breaker()
            if generations[EXEMPLARS_GENERATION_KEY] != self._seen.get(EXEMPLARS_GENERATION_KEY):
                self.indexes = build_indexes(settings.NEURAL_EMBEDDING_DIMENSIONS)
            self._seen = generations

    def _due(self) -> bool:
        return time.monotonic() - self._checked_at >= settings.LIVE_CONFIG_CHECK_INTERVAL

    def current(self, spec: RouterSpec) -> Router:
        """For sync callers (operations API): always checks the fleet's counters."""
        state = get_state()
        generations = {
            key: int(state.get(key) or 0)
            for key in (RELOAD_KEY, BREAKER_RESET_KEY, EXEMPLARS_GENERATION_KEY)
        }
        if self.router is None or spec != self.spec or generations != self._seen:
            self._sync(spec, generations)
        self._checked_at = time.monotonic()
        assert self.router is not None
        return self.router

    async def acurrent(self, spec: RouterSpec) -> Router:
        if self.router is not None and spec == self.spec and not self._due():
            return self.router
        try:
            values = await get_state().aget_many(_COUNTERS)
            generations = {
                key: int(value or 0) for key, value in zip(_COUNTERS, values, strict=True)
            }
        except STATE_ERRORS as exc:
            log_degraded(logger, exc, "Neural router kept, shared state unavailable: %s", exc)
            generations = dict(self._seen)
        if self.router is None or spec != self.spec or generations != self._seen:
            await sync_to_async(self._sync)(spec, generations)
        self._checked_at = time.monotonic()
        assert self.router is not None
        return self.router

    # -- operations ----------------------------------------------------------------------------

    def reload(self, spec: RouterSpec) -> None:
        """Check the model file here first: a bad file raises ModelFileError and nothing changes;
        a good one is loaded here and, through the reload counter, on every other worker."""
        router = self.current(spec)
        router.reload(str(resolve_model_path(spec.model_path)))
        self.loaded_at = time.time()
        get_state().incr(RELOAD_KEY)

    @staticmethod
    def reset_breaker() -> None:
        get_state().incr(BREAKER_RESET_KEY)

    # -- the gateway's decisions ---------------------------------------------------------------

    async def adecide(
        self,
        spec: RouterSpec,
        *,
        service_type: str,
        text: str,
        metadata: dict[str, Any],
        embedding: Any = None,
    ) -> NeuralDecision:
        """`embedding`: the prompt's vector when the caller has one (from an embedding service),
        else the local hashing embedder's."""
        router = await self.acurrent(spec)
        if embedding is None:
            embedding = self.embedder.embed(text)
        common: dict[str, Any] = {
            "service_type": service_type,
            "text_hash": prompt_hash(text),
            "embedding": embedding,
            "metadata": metadata,
        }
        if (
            settings.NEURAL_EXPLORATION_RATE > 0
            and random.random() < settings.NEURAL_EXPLORATION_RATE
        ):
            metrics.observe_router_decision(lightweight=True, inference_seconds=None)
            return NeuralDecision(Tier.LIGHTWEIGHT, 0.0, 1.0, "explore", **common)
        index = self.indexes.get(service_type)
        batch = index.nearest(embedding, settings.NEURAL_NEIGHBOURS, metadata) if index else None
        metrics.cache_lookup("routingExemplars", hit=batch is not None)
        if batch is None:
            metrics.observe_router_decision(lightweight=False, inference_seconds=None)
            return NeuralDecision(Tier.POWERFUL, 0.0, 1.0, "no_exemplars", **common)
        breaker = router.breaker
        ranked = router.rank(embedding, batch, now=time.time())
        decisions = ranked.decisions
        best = int(decisions.order[0])
        tier = Tier.LIGHTWEIGHT if bool(decisions.use_lightweight[best]) else Tier.POWERFUL
        metrics.observe_router_decision(
            lightweight=tier == Tier.LIGHTWEIGHT,
            inference_seconds=ranked.inference_time_us / 1e6 if ranked.fallback is None else None,
            error=ranked.fallback in MODEL_ERRORS,
            tripped=tripped(breaker, router.breaker),
        )
        return NeuralDecision(
            tier,
            float(decisions.confidence[best]),
            float(decisions.uncertainty[best]),
            ranked.fallback or "model",
            **common,
        )

    @staticmethod
    async def arecord_outcome(decision: NeuralDecision, *, success: bool, request_id: str) -> None:
        event = outcome_event(
            service_type=decision.service_type,
            text_hash=decision.text_hash,
            embedding=np.asarray(decision.embedding),
            metadata=decision.metadata,
            tier=decision.tier,
            success=success,
        )
        state = get_state()
        try:
            await state.alist_push(OUTCOMES_KEY, event)
            await state.aset(
                f"router:decision:{request_id}",
                f"{decision.service_type} {decision.tier} {decision.text_hash}",
                ttl_seconds=settings.NEURAL_FEEDBACK_TTL_SECONDS,
            )
        except STATE_ERRORS as exc:
            log_degraded(logger, exc, "Routing outcome dropped, shared state unavailable: %s", exc)


def record_feedback(*, request_id: str, success: bool) -> dict[str, str] | None:
    """A client's verdict on a routed answer; None when the decision is unknown or too old."""
    state = get_state()
    raw = state.get(f"router:decision:{request_id}")
    if raw is None:
        return None
    service_type, tier, text_hash = raw.split(" ", 2)
    state.list_push(
        OUTCOMES_KEY,
        outcome_event(
            service_type=service_type,
            text_hash=text_hash,
            embedding=None,
            metadata={},
            tier=tier,
            success=success,
            feedback=True,
        ),
    )
    return {"serviceType": service_type, "tier": tier}


runtime = RouterRuntime()
