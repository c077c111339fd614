"""The router the gateway decides with: the prompt scorer, calibrated, behind the model breaker.

`PromptRouter` is a `Router` (the seed's candidate-scoring library API: `route`, `rank`, the
breaker) whose served model is the prompt scorer at `model_path`. The candidate cell (five Tiny
Dancer features per candidate) is a separate fixed file that only `route`/`rank` use.

The decision for a prompt with score s (probability that the powerful tier is needed):

- the calibrated threshold t is the score above which `target_powerful_share` of the training
  prompts fall (stored with the model);
- confidence, the seed's "the lightweight tier is good enough", maps s piecewise-linearly so that
  s = 0 → 1, s = t → `CALIBRATED_CONFIDENCE` (0.925) and s = 1 → 0; uncertainty is the seed's
  margin form of the confidence;
- the seed's rule decides: lightweight when confidence ≥ confidence_threshold and uncertainty ≤
  max_uncertainty. At the defaults (0.85 and 0.15, together confidence ≥ 0.925) that is exactly
  s ≤ t; a higher threshold or a lower maximum uncertainty sends more prompts to the powerful tier.

Whenever the scorer cannot be trusted (no model, breaker open, non-finite score) the prompt goes to
the powerful tier with confidence 0 and uncertainty 1, and `fallback` says why.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from routing.neural.fastgrnn import FastGRNN
from routing.neural.model_file import ModelFileError
from routing.neural.model_holder import ServedModel
from routing.neural.prompt_model import FloatArray, PromptModel, load_prompt_model
from routing.neural.router import Router, RouterConfig

CALIBRATED_CONFIDENCE = 0.925
_ZERO, _ONE, _TWO = np.float32(0.0), np.float32(1.0), np.float32(2.0)


def calibrated_confidence(score: float, threshold: float) -> float:
    """The seed's confidence for a score, with the calibrated threshold at CALIBRATED_CONFIDENCE."""
    s = min(max(score, 0.0), 1.0)
    t = min(max(threshold, 1e-9), 1.0 - 1e-9)
    if s <= t:
        return CALIBRATED_CONFIDENCE + (1.0 - CALIBRATED_CONFIDENCE) * (t - s) / t
    return CALIBRATED_CONFIDENCE * (1.0 - s) / (1.0 - t)


@dataclass(frozen=True, slots=True)
class PromptDecision:
    score: float  # probability that the powerful tier is needed
    confidence: float
    uncertainty: float
    use_lightweight: bool
    threshold: float  # calibrated score threshold at the target share
    inference_time_us: float
    fallback: str | None = None


class PromptRouter(Router):
    def __init__(
        self,
        config: RouterConfig,
        *,
        candidate_model_path: str,
        candidate_model: FastGRNN | None = None,
        prompt_model: PromptModel | None = None,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__(
            replace(config, model_path=candidate_model_path),
            model=candidate_model,
            clock=clock,
            timer=timer,
        )
        self.candidate_load_error = self.load_error
        self.config = config
        self._prompt: PromptModel | None = prompt_model
        self._threshold_of: tuple[PromptModel, float] | None = None
        self.load_error = None
        if prompt_model is None:
            try:
                self.reload()
            except ModelFileError as exc:
                # Serve (everything to the powerful tier) rather than refuse to start.
                self.load_error = str(exc)

    @property
    def prompt_model(self) -> PromptModel | None:
        return self._prompt

    @property
    def served_model(self) -> ServedModel | None:
        prompt = self._prompt
        return None if prompt is None else prompt.served

    def reload(self, path: str | None = None) -> ServedModel:
        """Swap in the scorer at `path` (default: model_path); on `ModelFileError` the scorer
        already in service keeps serving."""
        loaded = load_prompt_model(
            path or self.config.model_path,
            quantize=self.config.enable_quantization,
            timer=self._timer,
        )
        self._prompt = loaded
        self.load_error = None
        return loaded.served

    @property
    def threshold(self) -> float | None:
        prompt = self._prompt
        return None if prompt is None else self._thresholds(prompt)

    def _thresholds(self, prompt: PromptModel) -> float:
        """The calibrated threshold of the model in service, computed once per model."""
        cached = self._threshold_of
        if cached is None or cached[0] is not prompt:
            cached = (prompt, prompt.spec.calibration.threshold(self.config.target_powerful_share))
            self._threshold_of = cached
        return cached[1]

    def decide(
        self,
        text: str,
        *,
        embedding: FloatArray | None = None,
        stats: Sequence[float] | None = None,
        now: float | None = None,
    ) -> PromptDecision:
        started = self._timer()
        moment = self._clock() if now is None else now
        prompt = self._prompt
        breaker = self._breaker
        if prompt is None or (breaker is not None and not breaker.allows_request(moment)):
            reason = "model_unavailable" if prompt is None else "circuit_open"
            return self._powerful(started, reason)
        try:
            score = prompt.score(text, embedding, stats)
            if not math.isfinite(score):
                raise FloatingPointError("non-finite score")
        except (ValueError, FloatingPointError) as exc:
            self._record(moment, success=False)
            reason = "non_finite_score" if isinstance(exc, FloatingPointError) else "model_error"
            return self._powerful(started, reason)
        self._record(moment, success=True)
        threshold = self._thresholds(prompt)
        confidence = calibrated_confidence(score, threshold)
        # The seed's margin uncertainty (`decision.margin_uncertainty`, float32), for one value: at
        # the threshold itself confidence 0.925 gives uncertainty just under 0.15, as it must.
        c32 = np.float32(confidence)
        uncertainty = float(max(_ZERO, _TWO * min(c32, _ONE - c32)))
        lightweight = (
            confidence >= self.config.confidence_threshold
            and uncertainty <= self.config.max_uncertainty
        )
        return PromptDecision(
            score,
            confidence,
            uncertainty,
            lightweight,
            threshold,
            (self._timer() - started) * 1e6,
        )

    def _powerful(self, started: float, reason: str) -> PromptDecision:
        threshold = self.threshold
        return PromptDecision(
            1.0,
            0.0,
            1.0,
            False,
            math.nan if threshold is None else threshold,
            (self._timer() - started) * 1e6,
            reason,
        )
