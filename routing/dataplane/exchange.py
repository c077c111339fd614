"""`Exchange`: the bookkeeping of one /v1 request, and the headers the gateway stamps on its answer."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.http.response import HttpResponseBase

from authjwt.keys import ApiKeyPrincipal
from routing.neural_runtime import NeuralDecision
from routing.resilience import rate_limit
from routing.resilience.limiters import Decision


@dataclass(slots=True)
class Exchange:
    """Bookkeeping of one client request: its id, its clock, the time spent waiting upstream, and
    what happened on the way (read by the metrics once the answer is on its way)."""

    request_id: str
    started: float = field(default_factory=time.perf_counter)
    received_at: float = field(default_factory=time.time)  # wall clock, for records and logs
    upstream_wait: float = 0.0
    instance_id: str = ""
    service_type: str = ""
    model: str = ""  # as the client asked for it
    served_model: str = ""  # the model of the instance that answered last
    key_id: str = ""  # the client's API key (its id and name; never the key itself)
    key_name: str = ""
    principal: ApiKeyPrincipal | None = None  # what the key may do and spend
    retries: int = 0  # attempts made after the first, on other instances
    fallback_model: str = ""  # the fallback model that answered, when one did
    rejected_by: str = ""  # the rate-limit scope that refused the request, if any
    decision: str = ""  # the neural router's tier (lightweight/powerful), for neural services
    confidence: float | None = None
    neural: NeuralDecision | None = None
    limits: list[Decision] = field(default_factory=list)  # rate limits that admitted the request
    first_byte: float | None = None  # perf_counter at a stream's first chunk
    prompt_tokens: int = 0  # from the upstream's `usage`
    completion_tokens: int = 0
    usage_estimated: bool = False  # the tokens were estimated, the upstream reported none
    cost: float | None = None  # USD, when the instance that answered has prices
    prices: tuple[float, float] | None = None  # that instance's, per million tokens
    error: str = ""  # the code of the gateway's refusal or failure, if any
    on_end: Callable[[], None] | None = None  # runs once, when the answer's last byte is gone

    def end(self) -> None:
        callback, self.on_end = self.on_end, None
        if callback is not None:
            callback()

    def count_usage(self, usage: tuple[int, int] | None) -> None:
        if usage is not None:
            self.prompt_tokens, self.completion_tokens = usage

    def priced(self) -> float | None:
        """The request's cost in USD at its instance's prices (None when unpriced)."""
        if self.prices is None:
            return None
        return (self.prompt_tokens * self.prices[0] + self.completion_tokens * self.prices[1]) / 1e6

    def overhead_ms(self) -> float:
        return max(0.0, (time.perf_counter() - self.started - self.upstream_wait) * 1000)

    def stamp(self, response: HttpResponseBase) -> HttpResponseBase:
        response["x-request-id"] = self.request_id
        if self.instance_id:
            response["x-router-instance"] = self.instance_id
        response["x-gateway-overhead-ms"] = f"{self.overhead_ms():.3f}"
        if self.decision:
            response["x-router-decision"] = self.decision
            response["x-router-confidence"] = f"{self.confidence or 0.0:.4f}"
            if self.neural is not None and self.neural.reason == "model":
                response["x-router-score"] = f"{self.neural.score:.4f}"
        tightest = rate_limit.tightest(self.limits)
        # An upstream's own limits, relayed, are left as they are.
        relayed = response.has_header("x-ratelimit-limit") or response.has_header(
            "x-ratelimit-limit-requests"
        )
        if tightest is not None and not relayed:
            for name, value in rate_limit.headers_of(tightest).items():
                response[name] = value
        return response


def stamp_outside(response: HttpResponseBase, request_id: str, started: float) -> HttpResponseBase:
    """The headers of an answer made outside the pipeline (a refusal before it, the model list):
    what `Exchange.stamp` writes for an exchange that reached no instance and no limit."""
    response["x-request-id"] = request_id
    response["x-gateway-overhead-ms"] = f"{max(0.0, (time.perf_counter() - started) * 1000):.3f}"
    return response
