"""Prompt embeddings for the neural router from the gateway's own `embedding` service.

With `NEURAL_EMBEDDING_MODEL` set, a neural service's prompts are embedded by an instance of that
model in the `embedding` service (any adapter, the Ollama one included), called directly with the
pooled upstream client. The vectors must have `NEURAL_EMBEDDING_DIMENSIONS` dimensions, the size the
exemplars are stored at. Without the setting, or when the call fails, the local hashing embedder
answers, and the failure is logged.
"""

import json
import logging
import random

import numpy as np
import numpy.typing as npt
from django.conf import settings

from routing.service_types import ServiceKind
from routing.snapshot import LiveConfig

from .adapters import adapter_for
from .client import UpstreamError, send_upstream
from .endpoints import ENDPOINTS

logger = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float32]
EMBEDDINGS = ENDPOINTS["embeddings"]


class EmbeddingUnavailable(Exception):
    pass


async def embed_with_service(
    config: LiveConfig, model: str, text: str, dimensions: int
) -> FloatArray:
    service = config.service(ServiceKind.EMBEDDING)
    instances = service.candidates(model) if service is not None else ()
    if not instances:
        raise EmbeddingUnavailable(f"no enabled instance of '{model}' in the embedding service")
    instance = random.choice(instances)
    payload = {"model": model, "input": text}
    upstream = adapter_for(instance.adapter).build(
        instance, EMBEDDINGS, body=json.dumps(payload).encode(), payload=payload, headers={}
    )
    try:
        response = await send_upstream(
            upstream.method,
            upstream.url,
            headers=upstream.headers,
            content=upstream.content,
            connect_timeout_s=instance.connect_timeout_s,
            request_timeout_s=instance.request_timeout_s,
        )
        try:
            raw = await response.aread(settings.GATEWAY_BUFFER_LIMIT_BYTES)
        finally:
            await response.aclose()
    except UpstreamError as error:
        raise EmbeddingUnavailable(f"{instance.instance_id}: {error}") from None
    if upstream.translation is not None:
        raw = upstream.translation.status_body(response.status_code, raw)
    if response.status_code != 200:
        raise EmbeddingUnavailable(f"{instance.instance_id} answered {response.status_code}")
    try:
        vector = np.asarray(json.loads(raw)["data"][0]["embedding"], dtype=np.float32)
    except (ValueError, KeyError, IndexError, TypeError):
        raise EmbeddingUnavailable(f"{instance.instance_id} sent no embedding") from None
    if vector.shape != (dimensions,) or not np.isfinite(vector).all():
        raise EmbeddingUnavailable(
            f"{instance.instance_id} sent {vector.shape[0] if vector.ndim == 1 else '?'} dimensions,"
            f" the exemplars have {dimensions}"
        )
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
