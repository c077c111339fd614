"""The /v1 data plane: trusted proxies, the upstream connection pool, default timeouts."""

from .env import env_bool, env_float, env_int, env_list, env_str

# CIDRs of reverse proxies whose X-Forwarded-For is believed (ip_hash, client-IP rate limits).
# Empty: the peer address is the client, whatever the header says.
GATEWAY_TRUSTED_PROXIES = env_list("GATEWAY_TRUSTED_PROXIES", [])

# One pooled aiohttp session per worker process (routing.dataplane.client): at most this many
# upstream connections, busy or idle; an idle one is closed after GATEWAY_KEEPALIVE_EXPIRY_S.
GATEWAY_MAX_CONNECTIONS = env_int("GATEWAY_MAX_CONNECTIONS", 1000, minimum=1)
GATEWAY_KEEPALIVE_EXPIRY_S = env_float("GATEWAY_KEEPALIVE_EXPIRY_S", 30.0)
# Used when a service leaves a timeout at 0; the service's own values win otherwise.
GATEWAY_CONNECT_TIMEOUT_S = env_float("GATEWAY_CONNECT_TIMEOUT_S", 5.0)
GATEWAY_REQUEST_TIMEOUT_S = env_float("GATEWAY_REQUEST_TIMEOUT_S", 300.0)
# Answers up to this size that are not streams are read whole and sent with a Content-Length;
# larger successful ones and streams are relayed chunk by chunk. Error answers (status >= 400) are
# always read whole, so a larger one is cut (502 upstream_response_too_large): memory stays bounded.
GATEWAY_BUFFER_LIMIT_BYTES = env_int("GATEWAY_BUFFER_LIMIT_BYTES", 1 << 20, minimum=0)

# Client request bodies above this size get 413 without being read whole: a larger Content-Length
# is refused before any byte is read, a body without one is counted as it arrives. The default
# leaves room for audio and image uploads (OpenAI's own limit for audio is 25 MB).
GATEWAY_MAX_BODY_BYTES = env_int("GATEWAY_MAX_BODY_BYTES", 32 << 20, minimum=1)
# `max_tokens` / `max_completion_tokens` above this are refused (400) before reaching an upstream:
# no model writes that much, and some upstreams overflow on huge integers.
GATEWAY_MAX_OUTPUT_TOKENS = env_int("GATEWAY_MAX_OUTPUT_TOKENS", 1 << 20, minimum=1)

# The `api-version` sent to Azure OpenAI deployments whose base URL names none.
AZURE_OPENAI_API_VERSION = env_str("AZURE_OPENAI_API_VERSION", "2024-10-21")

# Streams sent upstream ask for usage (`stream_options.include_usage`) even when the client did not,
# and the extra usage chunk is taken out of the client's stream (`dataplane/stream_usage.py`), so
# every answer's tokens are counted. Off: the client's request goes as it is.
GATEWAY_STREAM_USAGE = env_bool("GATEWAY_STREAM_USAGE", True)

# How long a Responses API answer stays readable (`GET /v1/responses/{id}`) and continuable
# (`previous_response_id`), in shared state; expiry is its cleanup. 0 stores nothing. 30 days, as
# OpenAI keeps them.
GATEWAY_RESPONSES_RETENTION_S = env_int("GATEWAY_RESPONSES_RETENTION_S", 30 * 24 * 3600, minimum=0)

# Resilience (README "Resilience"). Retries on another instance happen before the first byte only.
# Connect errors and upstream 429s are always retried (nothing was processed); timeouts and 5xx
# only when this is on or the client sent an `Idempotency-Key`, since the upstream may have billed.
GATEWAY_RETRY_NON_IDEMPOTENT = env_bool("GATEWAY_RETRY_NON_IDEMPOTENT", False)
# Requests a HALF_OPEN breaker lets through at once to probe its instance.
GATEWAY_BREAKER_HALF_OPEN_PROBES = env_int("GATEWAY_BREAKER_HALF_OPEN_PROBES", 1, minimum=1)

# Health probes of every enabled instance (`routing.probe_instances`, run by Celery beat).
HEALTH_CHECK_ENABLED = env_bool("HEALTH_CHECK_ENABLED", True)
HEALTH_CHECK_INTERVAL_SECONDS = env_float("HEALTH_CHECK_INTERVAL_SECONDS", 30.0)
HEALTH_CHECK_TIMEOUT_SECONDS = env_float("HEALTH_CHECK_TIMEOUT_SECONDS", 5.0)
# Most probes run at once (each has its own timeout, so a slow instance delays no other).
HEALTH_CHECK_CONCURRENCY = env_int("HEALTH_CHECK_CONCURRENCY", 50, minimum=1)
for _name in ("HEALTH_CHECK_INTERVAL_SECONDS", "HEALTH_CHECK_TIMEOUT_SECONDS"):
    if globals()[_name] <= 0:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"{_name} must be a positive number of seconds")
