"""The neural router: features -> FastGRNN -> ranked decisions, guarded by a breaker.

Whenever the model cannot be trusted (no model loaded, breaker open, non-finite
output, inference error) every candidate goes to the powerful tier: confidence 0,
uncertainty 1, use_lightweight False, and the response says why in `fallback`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from routing.neural.decision import (
    DecisionPolicy,
    NonFiniteScoreError,
    RankedDecisions,
    UncertaintyEstimator,
    decide,
    margin_uncertainty,
)
from routing.neural.fastgrnn import FastGRNN
from routing.neural.features import FEATURE_COUNT, FeatureExtractor, FeatureWeights
from routing.neural.model_breaker import BreakerState, CircuitBreaker
from routing.neural.model_file import ModelFileError
from routing.neural.model_holder import ModelHolder, ServedModel
from routing.neural.route_request import (
    CandidateBatch,
    RoutingRequest,
    RoutingRequestError,
    parse_request,
)

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class RouterConfig:
    """Same field names and defaults as the reference router's config."""

    model_path: str = "./models/fastgrnn.safetensors"
    confidence_threshold: float = 0.85
    max_uncertainty: float = 0.15
    enable_circuit_breaker: bool = True
    circuit_breaker_threshold: int = 5
    enable_quantization: bool = True
    database_path: str | None = None
    circuit_breaker_recovery_seconds: float = 30.0
    feature_weights: FeatureWeights = field(default_factory=FeatureWeights)
    # Share of prompts the prompt scorer's calibrated threshold sends to the powerful tier.
    target_powerful_share: float = 0.4


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    candidate_id: str
    confidence: float
    use_lightweight: bool
    uncertainty: float


@dataclass(frozen=True, slots=True)
class RoutingResponse:
    decisions: list[RoutingDecision]
    inference_time_us: int
    candidates_processed: int
    feature_time_us: int
    fallback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "decisions": [
                {
                    "candidate_id": d.candidate_id,
                    "confidence": d.confidence,
                    "use_lightweight": d.use_lightweight,
                    "uncertainty": d.uncertainty,
                }
                for d in self.decisions
            ],
            "inference_time_us": self.inference_time_us,
            "candidates_processed": self.candidates_processed,
            "feature_time_us": self.feature_time_us,
            "fallback": self.fallback,
        }


@dataclass(frozen=True, slots=True)
class RankedRoute:
    """Array form of a response; `inference_time_us` covers features, model and ranking."""

    decisions: RankedDecisions
    feature_time_us: float
    inference_time_us: float
    fallback: str | None = None


def powerful_tier_for_all(n: int) -> RankedDecisions:
    return RankedDecisions(
        order=np.arange(n, dtype=np.intp),
        confidence=np.zeros(n, dtype=np.float32),
        uncertainty=np.ones(n, dtype=np.float32),
        use_lightweight=np.zeros(n, dtype=np.bool_),
    )


class Router:
    """Thread-safe: the model and breaker are immutable values swapped by reference."""

    def __init__(
        self,
        config: RouterConfig | None = None,
        *,
        model: FastGRNN | None = None,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.config = cfg = config or RouterConfig()
        self._clock = clock
        self._timer = timer
        self._policy = DecisionPolicy(cfg.confidence_threshold, cfg.max_uncertainty)
        self._features = FeatureExtractor(cfg.feature_weights)
        self._uncertainty: UncertaintyEstimator = margin_uncertainty
        self._holder = ModelHolder(quantize=cfg.enable_quantization, timer=timer)
        self._breaker_lock = threading.Lock()
        self._breaker: CircuitBreaker | None = (
            CircuitBreaker(cfg.circuit_breaker_threshold, cfg.circuit_breaker_recovery_seconds)
            if cfg.enable_circuit_breaker
            else None
        )
        self.load_error: str | None = None
        if model is not None:
            self._check_input_dim(model)
            self._holder.install(model)
        else:
            try:
                # This class's own reload even in subclasses: the cell at config.model_path.
                Router.reload(self)
            except ModelFileError as exc:
                # Serve (everything to the powerful tier) rather than refuse to start.
                self.load_error = str(exc)

    @staticmethod
    def _check_input_dim(model: FastGRNN, where: str = "<memory>") -> None:
        if model.config.input_dim != FEATURE_COUNT:
            raise ModelFileError(
                f"{where}: model takes {model.config.input_dim} inputs, "
                f"the router produces {FEATURE_COUNT} features"
            )

    @property
    def served_model(self) -> ServedModel | None:
        return self._holder.current

    def reload(self, path: str | None = None) -> ServedModel:
        """Swap in the model at `path` (default: config.model_path); on `ModelFileError`
        the model already in service keeps serving."""
        target = path or self.config.model_path
        served = self._holder.load(target, accept=lambda m: self._check_input_dim(m, target))
        self.load_error = None
        return served

    def reset_breaker(self) -> None:
        """Close the breaker (an operator's reset): the model serves again at once."""
        with self._breaker_lock:
            if self._breaker is not None:
                self._breaker = CircuitBreaker(
                    self.config.circuit_breaker_threshold,
                    self.config.circuit_breaker_recovery_seconds,
                )

    @property
    def breaker(self) -> CircuitBreaker | None:
        return self._breaker

    def breaker_state(self, now: float | None = None) -> BreakerState | None:
        breaker = self._breaker
        return None if breaker is None else breaker.state(self._clock() if now is None else now)

    def _record(self, now: float, *, success: bool) -> None:
        breaker = self._breaker
        if breaker is None or (
            success and not breaker.consecutive_failures and breaker.opened_at is None
        ):
            return
        with self._breaker_lock:
            current = self._breaker
            assert current is not None
            self._breaker = current.record_success(now) if success else current.record_failure(now)

    def rank(self, query: FloatArray, batch: CandidateBatch, *, now: float) -> RankedRoute:
        """Hot path: score and rank an already-columnar batch at time `now`."""
        timer = self._timer
        started = timer()
        served = self._holder.current
        n = len(batch)
        breaker = self._breaker
        if served is None or (breaker is not None and not breaker.allows_request(now)):
            reason = "model_unavailable" if served is None else "circuit_open"
            return RankedRoute(powerful_tier_for_all(n), 0.0, (timer() - started) * 1e6, reason)
        if query.shape[0] != batch.embeddings.shape[1]:
            raise RoutingRequestError(
                f"embedding dimension mismatch: query has {query.shape[0]}, "
                f"candidates have {batch.embeddings.shape[1]}"
            )
        features = self._features.extract(
            query,
            batch.embeddings,
            batch.inverse_norms,
            batch.created_at,
            batch.access_count,
            batch.success_rate,
            batch.overlap,
            now,
        )
        featured = timer()
        try:
            decisions = decide(served.kernel.score(features), self._policy, self._uncertainty)
        except (ValueError, FloatingPointError) as exc:
            self._record(now, success=False)
            reason = "non_finite_score" if isinstance(exc, NonFiniteScoreError) else "model_error"
            return RankedRoute(
                powerful_tier_for_all(n),
                (featured - started) * 1e6,
                (timer() - started) * 1e6,
                reason,
            )
        self._record(now, success=True)
        return RankedRoute(decisions, (featured - started) * 1e6, (timer() - started) * 1e6)

    def route(
        self, request: RoutingRequest | Mapping[str, Any], *, now: float | None = None
    ) -> RoutingResponse:
        """Route a request (dataclass or its JSON mapping); `now` defaults to the clock."""
        req = request if isinstance(request, RoutingRequest) else parse_request(request)
        query = np.asarray(req.query_embedding, dtype=np.float32)
        if query.ndim != 1:
            raise RoutingRequestError(f"query_embedding must be a vector, got shape {query.shape}")
        batch = CandidateBatch.from_candidates(req.candidates, query.shape[0], req.metadata)
        result = self.rank(query, batch, now=self._clock() if now is None else now)
        ranked = result.decisions
        ids = batch.ids
        confidence, uncertainty, lightweight = ranked.ranked()
        decisions = [
            RoutingDecision(ids[i], c, lw, u)
            for i, c, lw, u in zip(
                ranked.order.tolist(),
                confidence.tolist(),
                lightweight.tolist(),
                uncertainty.tolist(),
                strict=True,
            )
        ]
        return RoutingResponse(
            decisions=decisions,
            inference_time_us=math.ceil(result.inference_time_us),
            candidates_processed=len(batch),
            feature_time_us=math.ceil(result.feature_time_us),
            fallback=result.fallback,
        )
