"""The limiters and breakers applied to shared state atomically: one `AtomicScript` per operation.

The memory side calls the pure functions of `limiters`/`breaker` under MemoryState's lock; the Redis
side is a Lua script mirroring them step for step (same arithmetic in the same order, so both
backends decide alike: `tests/routing/resilience/test_scripts.py` runs the same schedules on both).

Stored formats (under STATE_KEY_PREFIX):
- `rl:…` limiters: token_bucket/leaky_bucket "value last", warm_up "tokens last started" (decimal
  seconds); sliding_window a sorted set of admission times (+ `…:seq`, a member counter); in memory
  the pure function's tuple.
- `breaker:{instance_id}`: `breaker.encode`'s string, in both backends.
Limiter results: [allowed "1"/"0", remaining, retry_after, reset_after]; breaker results:
[allowed "1"/"0", encoded state] for permit, [encoded state] for record and force.
"""

from collections.abc import Sequence
from typing import Any

from routerproject.state import AtomicScript
from routing.service_types import RateLimitAlgorithm

from . import breaker as pure_breaker
from . import limiters

# Numbers are stored with 17 significant digits so they read back exactly.
_PRELUDE = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[1])
end
local function fmt(x) return string.format('%.17g', x) end
local function int(x) return string.format('%d', math.floor(x)) end
local function split(raw)
  local parts = {}
  for part in string.gmatch(raw, '[^ |]+') do parts[#parts + 1] = part end
  return parts
end
"""

# ---------------------------------------------------------------- limiters
# ARGV[2..]: capacity, refill_rate, window_seconds, warmup_seconds, ttl_ms

_LIMITER_ARGS = """
local capacity = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local warmup = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
local raw = redis.call('GET', KEYS[1])
"""

_TOKEN_BUCKET = (
    _PRELUDE
    + _LIMITER_ARGS
    + """
local tokens, last = capacity, now
if raw then local p = split(raw); tokens = tonumber(p[1]); last = tonumber(p[2]) end
tokens = math.min(capacity, tokens + math.max(0, now - last) * rate)
local allowed, retry = 0, 0
if tokens >= 1 then allowed = 1; tokens = tokens - 1 else retry = (1 - tokens) / rate end
redis.call('SET', KEYS[1], fmt(tokens) .. ' ' .. fmt(math.max(last, now)), 'PX', ttl)
return {tostring(allowed), int(tokens), fmt(retry), fmt((capacity - tokens) / rate)}
"""
)

_LEAKY_BUCKET = (
    _PRELUDE
    + _LIMITER_ARGS
    + """
local level, last = 0, now
if raw then local p = split(raw); level = tonumber(p[1]); last = tonumber(p[2]) end
level = math.max(0, level - math.max(0, now - last) * rate)
local allowed, retry = 0, 0
if level + 1 <= capacity then allowed = 1; level = level + 1
else retry = (level + 1 - capacity) / rate end
redis.call('SET', KEYS[1], fmt(level) .. ' ' .. fmt(math.max(last, now)), 'PX', ttl)
return {tostring(allowed), int(capacity - level), fmt(retry), fmt(level / rate)}
"""
)

_WARM_UP = (
    _PRELUDE
    + _LIMITER_ARGS
    + f"""
local cold = {limiters.COLD_FACTOR!r}
local tokens, last, started = 1, now, now
if raw then
  local p = split(raw)
  tokens = tonumber(p[1]); last = tonumber(p[2]); started = tonumber(p[3])
  if math.max(0, now - last) > warmup then started = now end
end
local heat = math.min(1, math.max(0, now - started) / warmup)
local current_rate = rate * (1 / cold + (1 - 1 / cold) * heat)
local current_capacity = math.max(1, capacity * heat)
tokens = math.min(current_capacity, tokens + math.max(0, now - last) * current_rate)
local allowed, retry = 0, 0
if tokens >= 1 then allowed = 1; tokens = tokens - 1 else retry = (1 - tokens) / current_rate end
redis.call('SET', KEYS[1],
  fmt(tokens) .. ' ' .. fmt(math.max(last, now)) .. ' ' .. fmt(started), 'PX', ttl)
return {{tostring(allowed), int(tokens), fmt(retry), fmt((capacity - tokens) / current_rate)}}
"""
)

# KEYS[1]: the log (sorted set of admission times), KEYS[2]: a counter naming its members.
_SLIDING_WINDOW = (
    _PRELUDE
    + """
local capacity = tonumber(ARGV[2])
local window = tonumber(ARGV[4])
local ttl = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now - window))
-- Expired means oldest + window <= now, the very expression retry-after is computed from: with
-- floating point, "score <= now - window" alone can keep an entry whose retry-after is 0.
while true do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #oldest == 0 or tonumber(oldest[2]) + window > now then break end
  redis.call('ZREM', KEYS[1], oldest[1])
end
local count = redis.call('ZCARD', KEYS[1])
local allowed, retry = 0, 0
if count < capacity then
  allowed = 1
  local at = now
  if count > 0 then
    local newest = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
    if newest > at then at = newest end
  end
  local seq = redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[1], fmt(at), tostring(seq))
  count = count + 1
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
else
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  retry = oldest + window - now
end
local reset = 0
if count > 0 then
  reset = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]) + window - now
end
return {tostring(allowed), int(capacity - count), fmt(retry), fmt(reset)}
"""
)


def limiter_args(config: limiters.LimiterConfig) -> list[Any]:
    ttl_ms = int(limiters.idle_ttl(config) * 1000)
    return [
        config.capacity,
        float(config.refill_rate),
        float(config.window_seconds),
        float(config.warmup_seconds),
        ttl_ms,
    ]


def _limiter_step(algorithm: str) -> Any:
    def step(
        values: list[Any], args: Sequence[Any], now: float
    ) -> tuple[list[str], list[Any], float | None]:
        capacity, rate, window, warmup, ttl_ms = args
        config = limiters.LimiterConfig(
            algorithm, int(capacity), float(rate), float(window), float(warmup)
        )
        state = values[0] if isinstance(values[0], tuple) else None
        decision, new_state = limiters.check(state, now, config)
        result = [
            "1" if decision.allowed else "0",
            str(decision.remaining),
            repr(decision.retry_after),
            repr(decision.reset_after),
        ]
        return result, [new_state, *([None] * (len(values) - 1))], int(ttl_ms) / 1000

    return step


LIMITER_SCRIPTS: dict[str, AtomicScript] = {
    algorithm: AtomicScript(f"limiter:{algorithm}", lua, _limiter_step(algorithm))
    for algorithm, lua in (
        (RateLimitAlgorithm.TOKEN_BUCKET, _TOKEN_BUCKET),
        (RateLimitAlgorithm.LEAKY_BUCKET, _LEAKY_BUCKET),
        (RateLimitAlgorithm.SLIDING_WINDOW, _SLIDING_WINDOW),
        (RateLimitAlgorithm.WARM_UP, _WARM_UP),
    )
}


def limiter_keys(config: limiters.LimiterConfig, key: str) -> list[str]:
    if config.algorithm == RateLimitAlgorithm.SLIDING_WINDOW:
        return [key, key + ":seq"]
    return [key]


def decision_of(result: list[str], capacity: int) -> limiters.Decision:
    return limiters.Decision(
        allowed=result[0] == "1",
        limit=capacity,
        remaining=max(0, int(result[1])),
        retry_after=max(0.0, float(result[2])),
        reset_after=max(0.0, float(result[3])),
    )


# ---------------------------------------------------------------- breakers
# ARGV[2..]: failure_threshold, recovery_timeout (s), success_threshold, max_probes, ttl_ms[, extra]

BREAKER_TTL_SECONDS = 7 * 86400.0

_BREAKER_PRELUDE = (
    _PRELUDE
    + """
local failure_threshold = tonumber(ARGV[2])
local recovery = tonumber(ARGV[3])
local success_threshold = tonumber(ARGV[4])
local max_probes = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
local b = {state = 'CLOSED', failures = 0, successes = 0, probes = 0, changed_at = 0,
  last_failure_at = 0, forced = 0, requests = 0, failure_count = 0, success_count = 0}
local raw = redis.call('GET', KEYS[1])
if raw then
  local p = {}
  for part in string.gmatch(raw, '[^|]+') do p[#p + 1] = part end
  if #p == 10 then
    b.state = p[1]; b.failures = tonumber(p[2]); b.successes = tonumber(p[3])
    b.probes = tonumber(p[4]); b.changed_at = tonumber(p[5]); b.last_failure_at = tonumber(p[6])
    b.forced = tonumber(p[7]); b.requests = tonumber(p[8]); b.failure_count = tonumber(p[9])
    b.success_count = tonumber(p[10])
  end
end
local function encode()
  return table.concat({b.state, int(b.failures), int(b.successes), int(b.probes), fmt(b.changed_at),
    fmt(b.last_failure_at), int(b.forced), int(b.requests), int(b.failure_count),
    int(b.success_count)}, '|')
end
local function save()
  local encoded = encode()
  redis.call('SET', KEYS[1], encoded, 'PX', ttl)
  return encoded
end
local function open_it()
  b.state = 'OPEN'; b.failures = 0; b.successes = 0; b.probes = 0; b.changed_at = now
end
local function close_it()
  b.state = 'CLOSED'; b.failures = 0; b.successes = 0; b.probes = 0; b.changed_at = now
  b.forced = 0
end
"""
)

_BREAKER_PERMIT = (
    _BREAKER_PRELUDE
    + """
if b.state == 'CLOSED' then return {'1', raw or encode()} end
if b.state == 'OPEN' then
  if b.forced == 1 or now - b.changed_at < recovery then return {'0', raw} end
  b.state = 'HALF_OPEN'; b.successes = 0; b.probes = 1; b.changed_at = now
  return {'1', save()}
end
local probes = b.probes
if probes >= max_probes and now - b.changed_at >= recovery then probes = 0 end
if probes >= max_probes then return {'0', raw} end
b.probes = probes + 1; b.changed_at = now
return {'1', save()}
"""
)

# ARGV[7]: "1" success, "0" failure
_BREAKER_RECORD = (
    _BREAKER_PRELUDE
    + """
local success = ARGV[7] == '1'
b.requests = b.requests + 1
if success then b.success_count = b.success_count + 1
else b.failure_count = b.failure_count + 1; b.last_failure_at = now end
if b.forced == 1 then return {save()} end
if b.state == 'CLOSED' then
  if success then b.failures = 0
  elseif b.failures + 1 >= failure_threshold then open_it()
  else b.failures = b.failures + 1 end
  return {save()}
end
if not success then open_it(); return {save()} end
local successes = b.successes + 1
if successes >= success_threshold then close_it(); return {save()} end
if b.state ~= 'HALF_OPEN' then b.changed_at = now end
b.state = 'HALF_OPEN'; b.successes = successes; b.probes = math.max(0, b.probes - 1)
return {save()}
"""
)

# ARGV[7]: "1" force open, "0" force closed
_BREAKER_FORCE = (
    _BREAKER_PRELUDE
    + """
if ARGV[7] == '1' then open_it(); b.forced = 1 else close_it() end
return {save()}
"""
)


def breaker_args(config: pure_breaker.BreakerConfig, *extra: str) -> list[Any]:
    return [
        config.failure_threshold,
        float(config.recovery_timeout),
        config.success_threshold,
        config.max_probes,
        int(BREAKER_TTL_SECONDS * 1000),
        *extra,
    ]


def _breaker_config(args: Sequence[Any]) -> pure_breaker.BreakerConfig:
    return pure_breaker.BreakerConfig(int(args[0]), float(args[1]), int(args[2]), int(args[3]))


def _permit_step(
    values: list[Any], args: Sequence[Any], now: float
) -> tuple[list[str], list[Any], float | None]:
    current = pure_breaker.decode(values[0])
    allowed, new = pure_breaker.permit(current, now, _breaker_config(args))
    encoded = pure_breaker.encode(new)
    return ["1" if allowed else "0", encoded], [encoded], BREAKER_TTL_SECONDS


def _record_step(
    values: list[Any], args: Sequence[Any], now: float
) -> tuple[list[str], list[Any], float | None]:
    current = pure_breaker.decode(values[0])
    new = pure_breaker.record(current, now, _breaker_config(args), args[5] == "1")
    encoded = pure_breaker.encode(new)
    return [encoded], [encoded], BREAKER_TTL_SECONDS


def _force_step(
    values: list[Any], args: Sequence[Any], now: float
) -> tuple[list[str], list[Any], float | None]:
    new = pure_breaker.force(pure_breaker.decode(values[0]), now, args[5] == "1")
    encoded = pure_breaker.encode(new)
    return [encoded], [encoded], BREAKER_TTL_SECONDS


BREAKER_PERMIT = AtomicScript("breaker:permit", _BREAKER_PERMIT, _permit_step)
BREAKER_RECORD = AtomicScript("breaker:record", _BREAKER_RECORD, _record_step)
BREAKER_FORCE = AtomicScript("breaker:force", _BREAKER_FORCE, _force_step)
