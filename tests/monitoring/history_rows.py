"""Rows of the request history for tests: `row(...)` with plausible figures, any field given."""

import time
from typing import Any

from monitoring.request_history import RequestRow

DEFAULTS: dict[str, Any] = {
    "request_id": "req-0",
    "received_at": 0.0,
    "key_id": "",
    "key_name": "",
    "service_type": "chat",
    "model": "fake-chat",
    "served_model": "fake-chat",
    "instance_id": "fake-chat@http://up:1",
    "tier": "",
    "status": 200,
    "latency_ms": 12.5,
    "overhead_ms": 1.5,
    "first_byte_ms": None,
    "prompt_tokens": 10,
    "completion_tokens": 5,
    "usage_estimated": False,
    "cost": None,
    "retries": 0,
    "fallback_model": "",
    "error": "",
}


def row(**fields: Any) -> RequestRow:
    values = {**DEFAULTS, "received_at": time.time(), **fields}
    return RequestRow(**values)
