"""The shape of a finished /v1 request as this app reads it (the access log, the request history):
the data plane's `Exchange` has it. Monitoring sits below the data plane, so it names the shape
rather than importing the class."""

from typing import Protocol


class EndedExchange(Protocol):
    request_id: str
    received_at: float  # Unix seconds
    started: float  # perf_counter
    upstream_wait: float
    first_byte: float | None
    key_id: str
    key_name: str  # never the key itself
    service_type: str
    model: str
    served_model: str
    instance_id: str
    decision: str
    retries: int
    fallback_model: str
    rejected_by: str
    error: str
    prompt_tokens: int
    completion_tokens: int
    usage_estimated: bool
    cost: float | None
