"""What an API key may use and spend, enforced on /v1: its `models` (403 `model_not_allowed`), its
budget (`maxBudget` per `budgetDuration`: 429 `insufficient_quota`, no upstream call, and no retry
by the SDKs) and its `tokensPerMinute` (429 `rate_limit_exceeded` until the minute ends). The
figures are the key's usage in shared state (`authjwt.key_usage`), read in one round trip before a
governed key's request is sent and added once the request has ended, off the answer's path (the
requests of keys that govern nothing are gathered and added a second at a time). A request in
flight is not counted yet: concurrent requests of one key may overshoot its budget by what they
cost. Shared-state failures fail open (logged), as the rate limits do."""

import asyncio
import logging
import time
from dataclasses import dataclass

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


@dataclass(slots=True)
class _Used:
    """What one key's ended requests used since the last write."""

    principal: ApiKeyPrincipal
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    def add(self, exchange: Exchange) -> None:
        self.requests += 1
        self.prompt_tokens += exchange.prompt_tokens
        self.completion_tokens += exchange.completion_tokens
        self.cost += exchange.cost or 0.0


_gathered: dict[str, _Used] = {}  # keys that govern nothing: written a second at a time
_GATHER_SECONDS = 1.0


def _record(exchange: Exchange, status: int, ended: float) -> None:
    """Add an ended request to its key's usage, in a task: listeners must not wait on I/O. A key
    with a budget or a token limit is written at once, for the next request to see; the others'
    requests are gathered and written a second at a time, one script per key."""
    principal = exchange.principal
    if principal is None or not exchange.instance_id:
        return  # refused before any instance: nothing was used
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # an answer closed outside the event loop: nothing to schedule on
        logger.warning("Usage of %s not recorded: no event loop", exchange.request_id)
        return
    used = _Used(principal)
    if not principal.governed:
        if not _gathered:
            loop.call_later(_GATHER_SECONDS, _write_gathered, loop)
        used = _gathered.setdefault(principal.key_id, used)
        used.add(exchange)
        return
    used.add(exchange)
    _start(loop, [used])


def _write_gathered(loop: asyncio.AbstractEventLoop) -> None:
    batch = list(_gathered.values())
    _gathered.clear()
    _start(loop, batch)


def _start(loop: asyncio.AbstractEventLoop, batch: list[_Used]) -> None:
    task = loop.create_task(_write(batch))
    _recording.add(task)
    task.add_done_callback(_recording.discard)


async def _write(batch: list[_Used]) -> None:
    try:
        for used in batch:
            await key_usage.arecord(
                used.principal,
                prompt_tokens=used.prompt_tokens,
                completion_tokens=used.completion_tokens,
                cost=used.cost,
                state=get_state(),
                requests=used.requests,
            )
    except STATE_ERRORS as exc:
        log_degraded(logger, exc, "Key usage not recorded, shared state unavailable: %s", exc)


async def settled() -> None:
    """Write what is gathered and wait for every write (tests, shutdown)."""
    if _gathered:
        _write_gathered(asyncio.get_running_loop())
    while _recording:
        await asyncio.gather(*list(_recording), return_exceptions=True)


on_exchange_end(_record)
