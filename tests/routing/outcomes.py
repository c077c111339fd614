"""Queued routing outcomes, as the data plane records them, for the tests of their folding."""

import numpy as np

from routing.exemplars import outcome_event


def outcome_events(count: int, *, start: int = 0) -> list[str]:
    """Successful lightweight outcomes of distinct prompts `prompt-{start}`, … (one exemplar each)."""
    vector = np.ones(8, dtype=np.float32) / np.sqrt(8)
    return [
        outcome_event(
            service_type="chat",
            text_hash=f"prompt-{index}",
            embedding=vector,
            metadata={},
            tier="lightweight",
            success=True,
        )
        for index in range(start, start + count)
    ]
