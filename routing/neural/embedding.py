"""A fast local prompt embedder: signed feature hashing of words and word pairs.

No model download, no network, about a microsecond per token: good enough to find the routing
exemplars a prompt resembles, which is all the router needs. The result is L2-normalised float32.
"""

from __future__ import annotations

import re
import zlib
from itertools import pairwise

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
_TOKEN = re.compile(r"[\w']+", re.UNICODE)


class HashingEmbedder:
    def __init__(self, dimensions: int = 256, *, max_tokens: int = 2048) -> None:
        if dimensions < 8:
            raise ValueError(f"dimensions must be at least 8, got {dimensions}")
        self.dimensions = dimensions
        self.max_tokens = max_tokens

    def embed(self, text: str) -> FloatArray:
        vector = np.zeros(self.dimensions, dtype=np.float32)
        tokens = _TOKEN.findall(text.lower())[: self.max_tokens]
        features = tokens + [f"{a} {b}" for a, b in pairwise(tokens)]
        if not features:
            return vector
        hashes = np.fromiter(
            (zlib.crc32(f.encode()) for f in features), dtype=np.uint32, count=len(features)
        )
        # The low bits pick the slot, the top bit the sign: collisions cancel instead of piling up.
        slots = (hashes % self.dimensions).astype(np.intp)
        signs = np.where(hashes & 0x80000000, -1.0, 1.0).astype(np.float32)
        np.add.at(vector, slots, signs)
        norm = float(np.linalg.norm(vector))
        if norm > 0:
            vector /= norm
        return vector


def prompt_text(body: object) -> str:
    """The text a routing decision is about: chat messages' text parts, or a completion prompt."""
    if not isinstance(body, dict):
        return ""
    parts: list[str] = []
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(
                    item["text"]
                    for item in content
                    if isinstance(item, dict) and isinstance(item.get("text"), str)
                )
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        parts.append(prompt)
    elif isinstance(prompt, list):
        parts.extend(p for p in prompt if isinstance(p, str))
    return "\n".join(parts)
