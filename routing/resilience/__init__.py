"""Rate limits, circuit breakers, retries and fallback of the /v1 data plane.

Pure algorithms: `limiters`, `breaker`. Their atomic application to shared state: `scripts`.
What the pipeline calls: `rate_limit`, `breakers`, `retry`.
"""
