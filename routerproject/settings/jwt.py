"""Authentication: operators' JWTs (djangorestframework-simplejwt), login throttling, and the API keys
of `/v1` clients."""

from datetime import timedelta

from .env import env_bool, env_int

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_TOKEN_MINUTES", 60, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_TOKEN_DAYS", 7, minimum=1)),
    # Rotation and the blacklist are ours (authjwt.services): every token is recorded and revocable.
    "ROTATE_REFRESH_TOKENS": False,
    "BLACKLIST_AFTER_ROTATION": False,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}

# Failed password attempts per client address and per user name per minute, across every worker and
# every way of presenting a password (authjwt.throttles); also refresh calls per address.
JWT_LOGIN_ATTEMPTS_PER_MINUTE = env_int("JWT_LOGIN_ATTEMPTS_PER_MINUTE", 10, minimum=1)

# `/v1` needs an API key (`Authorization: Bearer sk-…` or `X-API-Key`). On by default everywhere.
GATEWAY_REQUIRE_API_KEY = env_bool("GATEWAY_REQUIRE_API_KEY", True)
# Upper bound on how long a worker may trust a cached key without re-reading it, should an
# invalidation be lost while Redis was unreachable; invalidations normally apply on the next request.
API_KEY_CACHE_MAX_AGE_SECONDS = env_int("API_KEY_CACHE_MAX_AGE_SECONDS", 60, minimum=1)

# Every password (JWT login, HTTP Basic, the sign-in forms) goes through this backend's throttle.
AUTHENTICATION_BACKENDS = ["authjwt.backends.ThrottledModelBackend"]
