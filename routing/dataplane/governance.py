"""What an API key may use and spend, enforced on /v1: its `models` (403 `model_not_allowed`), its
budget (`maxBudget` per `budgetDuration`: 429 `insufficient_quota`, no upstream call, and no retry
by the SDKs) and its `tokensPerMinute` (429 `rate_limit_exceeded` until the minute ends). The
figures are the key's usage in shared state (`authjwt.key_usage`), read in one round trip before a
governed key's request is sent and added once the request has ended, off the answer's path. A
request in flight is not counted yet: concurrent requests of one key may overshoot its budget by
what they cost. Shared-state failures fail open (logged), as the rate limits do."""

import asyncio
import logging
import time

from authjwt import key_usage
from authjwt.keys import ApiKeyPrincipal
from routerproject.state import STATE_ERRORS, get_state, log_degraded

from . import errors
from .ended import on_exchange_end
from .exchange import Exchange

logger = logging.getLogger(__name__)
_recording: set[asyncio.Task[None]] = set()


async def check(principal: ApiKeyPrincipal, model: str) -> None:
    if not principal.allows_model(model):
        raise errors.GatewayError(
            403,
            f"This API key may not use the model '{model}'.",
            kind="permission_error",
            code="model_not_allowed",
            param="model",
        )
    if not principal.governed:
        return
    try:
        standing = await key_usage.astanding(principal, get_state(), time.time())
    except STATE_ERRORS as exc:
        log_degraded(logger, exc, "Key budget not enforced, shared state unavailable: %s", exc)
        return
    budget = principal.max_budget
    if budget is not None and standing.spend >= budget:
        resets = (
            f"; it starts again in {round(standing.resets_in)} s"
            if standing.resets_in is not None
            else ""
        )
        raise errors.GatewayError(
            429,
            f"You exceeded your current quota: this API key has spent ${standing.spend:.6f} of "
            f"its ${budget:.6f} budget{resets}.",
            kind="insufficient_quota",
            code="insufficient_quota",
            should_retry=False,
        )
    limit = principal.tokens_per_minute
    if limit is not None and standing.minute_tokens >= limit:
        wait = max(1, round(standing.minute_resets_in))
        raise errors.GatewayError(
            429,
            f"This API key used its {limit} tokens per minute; try again in {wait} s.",
            kind="tokens",
            code="rate_limit_exceeded",
            retry_after=wait,
            headers={
                "x-ratelimit-limit-tokens": str(limit),
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": f"{wait}s",
            },
        )


def _record(exchange: Exchange, status: int, ended: float) -> None:
    """Add an ended request to its key's usage, in a task: listeners must not wait on I/O."""
    principal = exchange.principal
    if principal is None or not exchange.instance_id:
        return  # refused before any instance: nothing was used
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # an answer closed outside the event loop: nothing to schedule on
        logger.warning("Usage of %s not recorded: no event loop", exchange.request_id)
        return
    task = loop.create_task(
        _add(principal, exchange.prompt_tokens, exchange.completion_tokens, exchange.cost)
    )
    _recording.add(task)
    task.add_done_callback(_recording.discard)


async def _add(
    principal: ApiKeyPrincipal, prompt_tokens: int, completion_tokens: int, cost: float | None
) -> None:
    try:
        await key_usage.arecord(
            principal,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=cost,
            state=get_state(),
        )
    except STATE_ERRORS as exc:
        log_degraded(logger, exc, "Key usage not recorded, shared state unavailable: %s", exc)


async def settled() -> None:
    """Wait for the usage of ended requests to be recorded (tests, shutdown)."""
    while _recording:
        await asyncio.gather(*list(_recording), return_exceptions=True)


on_exchange_end(_record)
