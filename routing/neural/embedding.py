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
        tokens = _TOKEN.findall(text.lower())[: self.max_tokens]
        features = tokens + [f"{a} {b}" for a, b in pairwise(tokens)]
        if not features:
            return np.zeros(self.dimensions, dtype=np.float32)
        hashes = np.fromiter(
            map(zlib.crc32, map(str.encode, features)), dtype=np.uint32, count=len(features)
        )
        # The low bits pick the slot, the top bit the sign: collisions cancel instead of piling up.
        # The sums are of ±1, exact in any float type: bincount is add.at without its slow path.
        signs = 1.0 - (hashes >> 31).astype(np.float64) * 2.0
        sums = np.bincount(hashes % self.dimensions, weights=signs, minlength=self.dimensions)
        vector: FloatArray = sums.astype(np.float32)
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
