"""Retraining the prompt scorer from what the deployment knows: the shipped labelled data
(`NEURAL_TRAINING_DATA`), the labelled sets it imported (`RoutingLabel`) and the verdicts clients
gave on routed traffic (`RoutingExemplar` rows with verdicts).

The model is written to `NEURAL_RETRAINED_MODEL` (its exemplar bank beside it), checked by loading
it, and then made live: the router settings' `model_path` moves to it (a new configuration version,
which every worker follows), or, when it already points there, the reload counter moves. Any
failure leaves the model in service as it was.
"""

import logging
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from configversions.services import Actor

from .live_config import get_live_config
from .models import RoutingExemplar, RoutingLabel
from .neural.prompt_model import load_prompt_model
from .neural.prompt_training import (
    LabelledPrompt,
    ScorerOptions,
    TrafficExamples,
    load_labelled,
    save_trained,
    train_scorer,
)
from .neural.scorer import FEATURE_COUNT
from .neural_runtime import display_model_path, resolve_model_path, runtime
from .services import router_settings_update

logger = logging.getLogger(__name__)
_STATS = FEATURE_COUNT - 4


def imported_rows() -> list[LabelledPrompt]:
    return [
        LabelledPrompt(
            row.key,
            row.prompt,
            1.0 if row.strong == 1 and row.weak == 0 else 0.0,
            row.domain or None,
            row.weak,
            row.strong,
        )
        for row in RoutingLabel.objects.all()
    ]


def traffic_examples(dimensions: int) -> TrafficExamples:
    """Exemplars that clients gave verdicts on, with embeddings of the scorer's size."""
    embeddings, stats, need = [], [], []
    for row in RoutingExemplar.objects.filter(verdicts__gt=0).only(
        "embedding", "stats", "verdicts", "need_votes"
    ):
        vector = np.frombuffer(bytes(row.embedding), dtype="<f4")
        values = np.frombuffer(bytes(row.stats), dtype="<f4")
        if vector.shape[0] != dimensions or values.shape[0] != _STATS:
            continue
        embeddings.append(vector)
        stats.append(values.astype(np.float64))
        need.append(row.need_votes / row.verdicts)
    return TrafficExamples(
        np.array(embeddings, dtype=np.float32).reshape(-1, dimensions),
        np.array(stats, dtype=np.float64).reshape(-1, _STATS),
        np.array(need, dtype=np.float64),
    )


def retrain(*, actor: Actor | None = None) -> dict[str, Any]:
    """Train, check and make live a new scorer; returns what was trained. Raises
    `TrainingDataError`, `ValueError` or `ModelFileError` with nothing changed."""
    options = ScorerOptions()
    sources = [str(resolve_model_path(p)) for p in settings.NEURAL_TRAINING_DATA]
    rows = load_labelled(sources) + imported_rows()
    traffic = traffic_examples(options.dimensions)
    trained = train_scorer(
        rows,
        options,
        sources=[*settings.NEURAL_TRAINING_DATA, "imported", "traffic"],
        traffic=traffic,
    )
    target = Path(settings.NEURAL_RETRAINED_MODEL)
    staging = target.with_name(target.stem + ".next.safetensors")
    save_trained(trained, staging)
    load_prompt_model(staging)  # a file the router cannot load never goes live
    save_trained(trained, target)
    for leftover in (staging, staging.with_name(staging.stem + ".exemplars.safetensors")):
        leftover.unlink(missing_ok=True)
    path = display_model_path(str(target))
    spec = get_live_config().router
    if str(resolve_model_path(spec.model_path)) == str(target):
        runtime.reload(spec)
    else:
        router_settings_update(actor=actor, model_path=path)
    facts = {
        "modelPath": path,
        "labelledRows": len(rows),
        "trafficRows": len(traffic),
        "bestEpoch": trained.best_epoch,
    }
    logger.info("Router retrained: %s", facts)
    return facts
