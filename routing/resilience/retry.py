"""When a failed attempt may be made again on another instance (before the first byte only).

Outcomes: `ok`, `unreachable` (connect error: nothing was sent), `http_429` (the upstream refused
without processing), `timeout` and `http_5xx` (the upstream may have processed, and billed, it).
The first two are always retried; the others only when the client marked the request idempotent
with an `Idempotency-Key` header or the operator set GATEWAY_RETRY_NON_IDEMPOTENT.
"""

from collections.abc import Mapping

OK = "ok"
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
HTTP_5XX = "http_5xx"
HTTP_429 = "http_429"
BROKEN = "broken"  # the answer broke after its first byte: never retried

NOTHING_PROCESSED = frozenset({UNREACHABLE, HTTP_429})
MAYBE_PROCESSED = frozenset({TIMEOUT, HTTP_5XX})


def outcome_of_status(status: int) -> str:
    if status == 429:
        return HTTP_429
    if status >= 500:
        return HTTP_5XX
    return OK


def is_failure(outcome: str) -> bool:
    """What a breaker counts against its instance."""
    return outcome != OK


def is_idempotent(headers: Mapping[str, str]) -> bool:
    return bool(headers.get("idempotency-key") or headers.get("Idempotency-Key"))


def may_retry(outcome: str, *, idempotent: bool, retry_non_idempotent: bool) -> bool:
    if outcome in NOTHING_PROCESSED:
        return True
    if outcome in MAYBE_PROCESSED:
        return idempotent or retry_non_idempotent
    return False
