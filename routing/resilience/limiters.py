"""The four rate-limit algorithms as pure functions: `(state, now, config) -> (decision, new state)`.

No Django, no I/O, no clock of their own: the caller passes `now` (seconds, any monotonic origin),
so tests drive time instead of sleeping. The shared-state backends apply them atomically (the
memory backend calls these functions under its lock; the Redis backend runs `lua.py`'s scripts,
which mirror them step for step and are checked against them).

Guarantees, over any arrival schedule (property-tested):
- token_bucket, leaky_bucket, warm_up: in any interval of length T at most capacity + rate·T
  admissions (warm_up ramps from a third of the rate and a burst of 1 after an idle period);
- sliding_window: at most capacity admissions in any window of `window_seconds` (an exact log).
"""

import math
from dataclasses import dataclass

from routing.service_types import RateLimitAlgorithm

# warm_up: a cold limiter refills at rate / COLD_FACTOR and grows to the full rate over the ramp.
COLD_FACTOR = 3.0

State = tuple[float, ...]


@dataclass(frozen=True, slots=True)
class LimiterConfig:
    algorithm: str  # RateLimitAlgorithm
    capacity: int
    refill_rate: float  # tokens (or leaks) per second
    window_seconds: float = 1.0  # sliding_window
    warmup_seconds: float = 10.0  # warm_up


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int  # the configured capacity (x-ratelimit-limit)
    remaining: int  # admissions left right now (x-ratelimit-remaining)
    retry_after: float  # seconds until one more would be admitted (0 when allowed)
    reset_after: float  # seconds until the limiter is back to full capacity (x-ratelimit-reset)


def _elapsed(last: float, now: float) -> float:
    # Clocks of several hosts may disagree a little: time never runs backwards for a limiter.
    return max(0.0, now - last)


def token_bucket(state: State | None, now: float, config: LimiterConfig) -> tuple[Decision, State]:
    """State (tokens, last). Starts full; refills continuously up to capacity."""
    capacity, rate = float(config.capacity), config.refill_rate
    tokens, last = state if state else (capacity, now)
    tokens = min(capacity, tokens + _elapsed(last, now) * rate)
    allowed = tokens >= 1.0
    if allowed:
        tokens -= 1.0
    retry_after = 0.0 if allowed else (1.0 - tokens) / rate
    decision = Decision(
        allowed, config.capacity, int(tokens), retry_after, (capacity - tokens) / rate
    )
    return decision, (tokens, max(last, now))


def leaky_bucket(state: State | None, now: float, config: LimiterConfig) -> tuple[Decision, State]:
    """State (level, last): a bucket of `capacity` that leaks `refill_rate` per second; a request
    adds one unit and is refused when it would overflow (the meter form: no queueing)."""
    capacity, rate = float(config.capacity), config.refill_rate
    level, last = state if state else (0.0, now)
    level = max(0.0, level - _elapsed(last, now) * rate)
    allowed = level + 1.0 <= capacity
    if allowed:
        level += 1.0
    retry_after = 0.0 if allowed else (level + 1.0 - capacity) / rate
    decision = Decision(allowed, config.capacity, int(capacity - level), retry_after, level / rate)
    return decision, (level, max(last, now))


def sliding_window(
    state: State | None, now: float, config: LimiterConfig
) -> tuple[Decision, State]:
    """State: the admission times still inside the window, oldest first (an exact sliding log)."""
    window = config.window_seconds
    # Kept while t + window > now: the expression retry-after is computed from, so a refusal never
    # says "retry in 0 s" (t > now - window alone can differ from it in floating point).
    log = tuple(t for t in (state or ()) if t + window > now)
    allowed = len(log) < config.capacity
    if allowed:
        log = (*log, max(now, log[-1]) if log else now)
    retry_after = 0.0 if allowed else log[0] + window - now
    reset_after = (log[-1] + window - now) if log else 0.0
    decision = Decision(
        allowed, config.capacity, config.capacity - len(log), retry_after, reset_after
    )
    return decision, log


def warmth(started: float, now: float, config: LimiterConfig) -> float:
    """0 at a cold start, 1 once `warmup_seconds` have passed since it."""
    return min(1.0, _elapsed(started, now) / config.warmup_seconds)


def warm_up(state: State | None, now: float, config: LimiterConfig) -> tuple[Decision, State]:
    """State (tokens, last, started). A token bucket whose refill rate and burst grow from cold
    (rate / COLD_FACTOR, a burst of one) to the configured ones over `warmup_seconds`. It starts cold
    and goes cold again after `warmup_seconds` without a request, so a backend that sat idle is not
    hit by a full burst at once."""
    capacity, rate = float(config.capacity), config.refill_rate
    if not state:
        tokens, last, started = 1.0, now, now
    else:
        tokens, last, started = state
        if _elapsed(last, now) > config.warmup_seconds:
            started = now  # cold again; the tokens it has are kept, they refill at the cold rate
    heat = warmth(started, now, config)
    current_rate = rate * (1.0 / COLD_FACTOR + (1.0 - 1.0 / COLD_FACTOR) * heat)
    current_capacity = max(1.0, capacity * heat)
    tokens = min(current_capacity, tokens + _elapsed(last, now) * current_rate)
    allowed = tokens >= 1.0
    if allowed:
        tokens -= 1.0
    retry_after = 0.0 if allowed else (1.0 - tokens) / current_rate
    decision = Decision(
        allowed, config.capacity, int(tokens), retry_after, (capacity - tokens) / current_rate
    )
    return decision, (tokens, max(last, now), started)


ALGORITHMS = {
    RateLimitAlgorithm.TOKEN_BUCKET: token_bucket,
    RateLimitAlgorithm.LEAKY_BUCKET: leaky_bucket,
    RateLimitAlgorithm.SLIDING_WINDOW: sliding_window,
    RateLimitAlgorithm.WARM_UP: warm_up,
}


def check(state: State | None, now: float, config: LimiterConfig) -> tuple[Decision, State]:
    return ALGORITHMS[RateLimitAlgorithm(config.algorithm)](state, now, config)


def idle_ttl(config: LimiterConfig) -> float:
    """How long a limiter's state must outlive its last request: after that it is back to its
    initial state anyway, so the key may expire."""
    if config.algorithm == RateLimitAlgorithm.SLIDING_WINDOW:
        span = config.window_seconds
    elif config.algorithm == RateLimitAlgorithm.WARM_UP:
        # A cold limiter refills at rate / COLD_FACTOR: its state matters that much longer.
        span = max(config.warmup_seconds, COLD_FACTOR * config.capacity / config.refill_rate)
    else:
        span = config.capacity / config.refill_rate
    return min(math.ceil(span) + 1.0, 30 * 86400.0)
