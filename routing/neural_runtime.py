"""The neural router of this process, as the gateway and the operations API use it.

It is a `PromptRouter`: the prompt scorer at the settings' `model_path` (with its exemplar bank and
calibration) decides `/v1` traffic; the seed's candidate API scores with the fixed candidate cell
(`CANDIDATE_MODEL_PATH`). It is rebuilt when its settings change (part of the live configuration)
or when an operator asks for a reload; its breaker is reset when an operator asks. Both requests
reach every worker through counters in shared state, followed at most every
LIVE_CONFIG_CHECK_INTERVAL (`routerproject.generations`). While the shared state cannot be read the
router in hand is kept, and outcomes are dropped (they only teach the router).
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
from routerproject.generations import Reading, check_interval, follow
from routerproject.state import STATE_ERRORS, get_state, log_degraded

from .exemplars import OUTCOMES_KEY, outcome_event, prompt_hash
from .neural.model_breaker import tripped
from .neural.prompt_router import PromptRouter
from .neural.scorer import prompt_statistics
from .service_types import Tier
from .snapshot import RouterSpec

RELOAD_KEY = "router:reload-generation"
# Fallback reasons that are failures of the model itself (counted as tiny_dancer errors).
MODEL_ERRORS = frozenset({"non_finite_score", "model_error"})
BREAKER_RESET_KEY = "router:breaker-reset-generation"
_COUNTERS = (RELOAD_KEY, BREAKER_RESET_KEY)
# The seed's candidate-scoring cell (five features per candidate), shipped with the project.
CANDIDATE_MODEL_PATH = "./models/candidates.safetensors"

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
    reason: str  # "model", "explore", or the router's fallback reason
    score: float  # the scorer's probability that the powerful tier is needed
    service_type: str
    text_hash: str
    embedding: Any = field(repr=False)
    metadata: dict[str, Any] = field(default_factory=dict)
    stats: list[float] = field(default_factory=list, repr=False)


class RouterRuntime:
    def __init__(self) -> None:
        self.router: PromptRouter | None = None
        self.spec: RouterSpec | None = None
        self.loaded_at: float | None = None
        self._seen: dict[str, int] = {}
        self._follower = follow(*_COUNTERS, interval=check_interval)
        self._lock = threading.Lock()

    # -- keeping up with the fleet -------------------------------------------------------------

    def _build(self, spec: RouterSpec) -> None:
        self.router = PromptRouter(
            replace(spec, model_path=str(resolve_model_path(spec.model_path))),
            candidate_model_path=str(resolve_model_path(CANDIDATE_MODEL_PATH)),
        )
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
            self._seen = generations

    def _counters(self, reading: Reading) -> dict[str, int]:
        if not reading.available:
            return dict(self._seen)
        return {key: reading.number(key) for key in _COUNTERS}

    def current(self, spec: RouterSpec) -> PromptRouter:
        """For sync callers (operations API): always checks the fleet's counters."""
        reading = self._follower.read(fresh=True)
        if reading.error is not None:
            raise reading.error.with_traceback(None)
        generations = self._counters(reading)
        if self.router is None or spec != self.spec or generations != self._seen:
            self._sync(spec, generations)
        assert self.router is not None
        return self.router

    async def acurrent(self, spec: RouterSpec) -> PromptRouter:
        if self.router is not None and spec == self.spec and not self._follower.due():
            return self.router
        generations = self._counters(await self._follower.aread())
        if self.router is None or spec != self.spec or generations != self._seen:
            await sync_to_async(self._sync)(spec, generations)
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
        self, spec: RouterSpec, *, service_type: str, text: str, metadata: dict[str, Any]
    ) -> NeuralDecision:
        router = await self.acurrent(spec)
        prompt = router.prompt_model
        metrics.cache_lookup("routingExemplars", hit=prompt is not None)
        embedding = prompt.embed(text) if prompt is not None else None
        common: dict[str, Any] = {
            "service_type": service_type,
            "text_hash": prompt_hash(text),
            "embedding": embedding,
            "metadata": metadata,
            "stats": prompt_statistics(text),
        }
        if (
            settings.NEURAL_EXPLORATION_RATE > 0
            and random.random() < settings.NEURAL_EXPLORATION_RATE
        ):
            metrics.observe_router_decision(lightweight=True, inference_seconds=None)
            return NeuralDecision(Tier.LIGHTWEIGHT, 0.0, 1.0, "explore", -1.0, **common)
        breaker = router.breaker
        decided = router.decide(text, embedding=embedding, stats=common["stats"])
        tier = Tier.LIGHTWEIGHT if decided.use_lightweight else Tier.POWERFUL
        metrics.observe_router_decision(
            lightweight=tier == Tier.LIGHTWEIGHT,
            inference_seconds=decided.inference_time_us / 1e6 if decided.fallback is None else None,
            error=decided.fallback in MODEL_ERRORS,
            tripped=tripped(breaker, router.breaker),
        )
        return NeuralDecision(
            tier,
            decided.confidence,
            decided.uncertainty,
            decided.fallback or "model",
            decided.score,
            **common,
        )

    @staticmethod
    async def arecord_outcome(decision: NeuralDecision, *, success: bool, request_id: str) -> None:
        event = outcome_event(
            service_type=decision.service_type,
            text_hash=decision.text_hash,
            embedding=None if decision.embedding is None else np.asarray(decision.embedding),
            metadata=decision.metadata,
            tier=decision.tier,
            success=success,
            stats=decision.stats,
            decision={
                "at": round(time.time(), 3),
                "score": round(decision.score, 4),
                "confidence": round(decision.confidence, 4),
                "reason": decision.reason,
                "requestId": request_id,
            },
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


def record_feedback(
    *, request_id: str, success: bool, powerful_needed: bool | None = None
) -> dict[str, str] | None:
    """A client's verdict on a routed answer (and, when given, on whether the powerful tier was
    needed); None when the decision is unknown or too old."""
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
            powerful_needed=powerful_needed,
        ),
    )
    return {"serviceType": service_type, "tier": tier}


runtime = RouterRuntime()
