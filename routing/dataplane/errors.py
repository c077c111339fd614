"""Answers the gateway makes itself, in OpenAI's error shape so SDKs raise their usual exceptions,
with `x-should-retry` so that they retry only what another try may change."""

import json
import math
from collections.abc import Mapping

from django.http import HttpResponse

# Statuses below 500 worth another try: a timeout, a conflict, a rate limit (OpenAI's SDKs' rule).
RETRYABLE = frozenset({408, 409, 429})


class GatewayError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        retry_after: int | None = None,
        headers: Mapping[str, str] | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.code = code
        self.param = param
        self.retry_after = retry_after
        self.headers = dict(headers or {})
        # What `x-should-retry` tells the SDKs (they act on it before their own status rule): by
        # default what may pass (a limit, an outage, an upstream that failed), not bad input.
        self.should_retry = (
            should_retry if should_retry is not None else status in RETRYABLE or status >= 500
        )

    def body(self) -> dict[str, dict[str, str | None]]:
        return {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self, api: str = "openai") -> HttpResponse:
        """The answer, in the shape of the client's API (`Endpoint.api`): Anthropic's clients
        read `{"type": "error", "error": {...}}`, every other client OpenAI's."""
        if api == "anthropic":
            from .dialects.anthropic import error_body  # the dialect builds on this module

            content = error_body(self.status, self.message)
        else:
            content = json.dumps(self.body()).encode()
        response = HttpResponse(content, status=self.status, content_type="application/json")
        if self.retry_after is not None:
            response["Retry-After"] = str(self.retry_after)
        response["x-should-retry"] = "true" if self.should_retry else "false"
        for name, value in self.headers.items():
            response[name] = value
        return response


def bad_request(
    message: str, *, param: str | None = None, code: str = "invalid_request"
) -> GatewayError:
    return GatewayError(400, message, param=param, code=code)


def body_too_large(limit: int) -> GatewayError:
    error = GatewayError(
        413,
        f"The request body is larger than this gateway accepts ({limit} bytes).",
        code="request_too_large",
    )
    # The rest of the body is never read: the connection cannot carry another request.
    error.headers["Connection"] = "close"
    return error


def model_not_found(model: str) -> GatewayError:
    return GatewayError(
        404,
        f"The model '{model}' does not exist or is not served here.",
        param="model",
        code="model_not_found",
    )


def no_instance(model: str) -> GatewayError:
    return GatewayError(
        503,
        f"No instance of '{model}' is available right now; try again shortly.",
        kind="server_error",
        code="no_available_instance",
        retry_after=1,
    )


def circuit_open(model: str, wait_seconds: float) -> GatewayError:
    """Every instance of the model is held off by its circuit breaker; `wait_seconds` until one may
    be tried again (Retry-After, at least 1)."""
    retry_after = max(1, math.ceil(wait_seconds))
    return GatewayError(
        503,
        f"Every instance of '{model}' is failing (circuit breaker open); "
        f"try again in {retry_after}s.",
        kind="server_error",
        code="circuit_open",
        retry_after=retry_after,
    )


def unavailable() -> GatewayError:
    """What the gateway cannot answer without its configuration store (see `pipeline.handle`)."""
    return GatewayError(
        503,
        "The gateway cannot serve this request right now (its configuration store is "
        "unavailable); try again shortly.",
        kind="server_error",
        code="service_unavailable",
        retry_after=1,
    )


def rate_limited(scope: str, retry_after: int, headers: Mapping[str, str]) -> GatewayError:
    return GatewayError(
        429,
        f"Rate limit reached ({scope} limit). Try again in {retry_after}s.",
        kind="requests",
        code="rate_limit_exceeded",
        retry_after=retry_after,
        headers=headers,
    )


def upstream_timeout(instance_id: str) -> GatewayError:
    return GatewayError(
        504,
        f"The upstream instance {instance_id} did not answer in time.",
        kind="server_error",
        code="upstream_timeout",
    )


def upstream_unreachable(instance_id: str) -> GatewayError:
    return GatewayError(
        502,
        f"The upstream instance {instance_id} could not be reached.",
        kind="server_error",
        code="upstream_unreachable",
    )


def upstream_too_large(instance_id: str, limit: int) -> GatewayError:
    """An answer that must be read whole (an error, or a body without a stream's type) but is larger
    than GATEWAY_BUFFER_LIMIT_BYTES: cut rather than held in the worker's memory."""
    return GatewayError(
        502,
        f"The upstream instance {instance_id} sent an answer larger than this gateway buffers "
        f"({limit} bytes); it was cut.",
        kind="server_error",
        code="upstream_response_too_large",
        should_retry=False,  # the same answer again would be cut again
    )


def stream_error_event(message: str) -> bytes:
    """How a stream that already started tells the client it broke: an SSE error event."""
    error = {"message": message, "type": "server_error", "param": None, "code": "upstream_error"}
    return b"data: " + json.dumps({"error": error}).encode() + b"\n\n"
