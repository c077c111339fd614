"""What each API key has used: requests, prompt and completion tokens, spend and when it was last
used, in shared state, so that every worker and host counts into the same figures (Redis; in
memory, each process its own). Before a request of a key with a budget or a tokens-per-minute limit
is sent, `astanding` reads its spend this budget period and its tokens this minute (one round trip);
once it has ended, `arecord` adds it (one atomic script, off the answer's path; the data plane adds
the requests of keys that govern nothing a second at a time).

Spend is counted in micro-dollars: integer increments are atomic on every backend. A budget period
starts at the key's creation and lasts `budget_duration`; its spend lives under the period's number,
so a new period starts from zero, and the old one expires.
"""

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from routerproject.state import AtomicScript, SharedState

from .keys import ApiKeyPrincipal

MICRO = 1_000_000
_TOTALS = ("requests", "prompt", "completion", "spend", "last")
_MINUTE_TTL_S = 120.0


def _totals(key_id: str) -> list[str]:
    return [f"key-usage:{key_id}:{field}" for field in _TOTALS]


def _period(principal: ApiKeyPrincipal, now: float) -> tuple[str, float | None]:
    """(the budget period's name, seconds until it ends); ("all", None) without a period."""
    if principal.budget_period_s is None:
        return "all", None
    elapsed = max(0.0, now - principal.created_at)
    number = int(elapsed // principal.budget_period_s)
    return str(number), (number + 1) * principal.budget_period_s - elapsed


def _spend_key(key_id: str, period: str) -> str:
    return f"key-spend:{key_id}:{period}"


def _minute_key(key_id: str, now: float) -> str:
    return f"key-tpm:{key_id}:{int(now // 60)}"


@dataclass(frozen=True, slots=True)
class Standing:
    spend: float  # USD this budget period
    resets_in: float | None  # seconds until the period ends, None when it never does
    minute_tokens: int  # tokens counted this minute
    minute_resets_in: float


async def astanding(principal: ApiKeyPrincipal, state: SharedState, now: float) -> Standing:
    period, resets_in = _period(principal, now)
    spend, tokens = await state.aget_many(
        [_spend_key(principal.key_id, period), _minute_key(principal.key_id, now)]
    )
    return Standing(
        spend=int(spend or 0) / MICRO,
        resets_in=resets_in,
        minute_tokens=int(tokens or 0),
        minute_resets_in=60 - now % 60,
    )


_RECORD_LUA = """
redis.call('INCRBY', KEYS[1], ARGV[8])
redis.call('INCRBY', KEYS[2], ARGV[2])
redis.call('INCRBY', KEYS[3], ARGV[3])
redis.call('INCRBY', KEYS[4], ARGV[4])
redis.call('SET', KEYS[5], ARGV[5])
redis.call('INCRBY', KEYS[6], ARGV[4])
if tonumber(ARGV[6]) > 0 then redis.call('PEXPIRE', KEYS[6], ARGV[6]) end
redis.call('INCRBY', KEYS[7], tonumber(ARGV[2]) + tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[7], ARGV[7])
return {'1'}
"""


def _record_step(
    values: list[Any], args: Sequence[Any], now: float
) -> tuple[list[str], list[Any], list[float | None]]:
    prompt, completion, spend, last, period_ttl_ms, minute_ttl_ms, count = (int(a) for a in args)
    requests, prompt_total, completion_total, spend_total, _, period_spend, minute = (
        int(v or 0) for v in values
    )
    written = [
        str(requests + count),
        str(prompt_total + prompt),
        str(completion_total + completion),
        str(spend_total + spend),
        str(last),
        str(period_spend + spend),
        str(minute + prompt + completion),
    ]
    period_ttl = period_ttl_ms / 1000 if period_ttl_ms > 0 else None
    return ["1"], written, [None, None, None, None, None, period_ttl, minute_ttl_ms / 1000]


RECORD = AtomicScript("key-usage:record", _RECORD_LUA, _record_step)


async def arecord(
    principal: ApiKeyPrincipal,
    *,
    prompt_tokens: int,
    completion_tokens: int,
    cost: float | None,
    state: SharedState,
    now: float | None = None,
    requests: int = 1,
) -> None:
    """Add `requests` ended requests of one key and what they used."""
    moment = time.time() if now is None else now
    period, resets_in = _period(principal, moment)
    # A period's spend outlives its period by a minute, for the requests that straddle its end.
    period_ttl_ms = 0 if resets_in is None else math.ceil((resets_in + 60) * 1000)
    keys = [
        *_totals(principal.key_id),
        _spend_key(principal.key_id, period),
        _minute_key(principal.key_id, moment),
    ]
    args = [
        max(0, prompt_tokens),
        max(0, completion_tokens),
        round(max(0.0, cost or 0.0) * MICRO),
        int(moment),
        period_ttl_ms,
        int(_MINUTE_TTL_S * 1000),
        requests,
    ]
    await state.arun_script(RECORD, keys, args, now=moment)


@dataclass(frozen=True, slots=True)
class Usage:
    requests: int
    prompt_tokens: int
    completion_tokens: int
    spend: float  # USD, all time
    last_used_at: float | None  # Unix seconds
    period_spend: float  # USD this budget period


def usage_of(principals: Sequence[ApiKeyPrincipal], state: SharedState) -> dict[str, Usage]:
    """Every key's usage to date, in one read (the management API lists them)."""
    now = time.time()
    keys: list[str] = []
    for principal in principals:
        keys += [
            *_totals(principal.key_id),
            _spend_key(principal.key_id, _period(principal, now)[0]),
        ]
    values = state.get_many(keys) if keys else []
    usage: dict[str, Usage] = {}
    width = len(_TOTALS) + 1
    for index, principal in enumerate(principals):
        requests, prompt, completion, spend, last, period = values[
            index * width : (index + 1) * width
        ]
        usage[principal.key_id] = Usage(
            requests=int(requests or 0),
            prompt_tokens=int(prompt or 0),
            completion_tokens=int(completion or 0),
            spend=int(spend or 0) / MICRO,
            last_used_at=float(last) if last else None,
            period_spend=int(period or 0) / MICRO,
        )
    return usage
