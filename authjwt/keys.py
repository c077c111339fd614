"""API keys of `/v1` clients on the hot path: no database query when the key is in the cache.

The data plane calls:

    raw = extract_api_key(request.headers)            # `Authorization: Bearer sk-…` or `X-API-Key`
    principal = await authenticate_api_key(raw, service_type="chat")   # raises ApiKeyError
    # or, honouring GATEWAY_REQUIRE_API_KEY (None when keys are not required and none was sent):
    principal = await authenticate_client(request.headers, service_type="chat")

and answers `ApiKeyError` with `JsonResponse(exc.body(), status=exc.status, headers=exc.headers)`.

The cache is a dict per process keyed by the key's SHA-256 digest. Every change to a key stores a new
random generation in the shared state; each request follows it (`routerproject.generations`, on
every request: the price of a revoked or disabled key being refused by every worker on its very next
request, rather than within a polling interval; the request's one reading of every generation) and
drops the cache when it changed. If the shared state cannot be read, the cache is dropped and the
key is read from the database, so a failing Redis never lets a revoked key through.
Entries older than API_KEY_CACHE_MAX_AGE_SECONDS are re-read in any case: that bounds how long an
invalidation lost during a Redis outage can go unnoticed by a worker that was idle at the time. If the
database cannot be read then, the expired entry answers (no key can be changed while the database is
down, and the change before it was announced through the generation); a key never seen has none and
the request is refused with 503 by the gateway.
"""

import hashlib
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import Error as DatabaseError
from django.utils import timezone

from monitoring import metrics
from routerproject.generations import every_request, follow
from routerproject.state import STATE_ERRORS, get_state

if TYPE_CHECKING:
    from .models import ApiKey

logger = logging.getLogger(__name__)

KEY_PREFIX = "sk-"
DISPLAY_PREFIX_LENGTH = 10
GENERATION_KEY = "auth:api-keys:generation"
MAX_CACHE_ENTRIES = 10_000


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(raw_key: str) -> str:
    # Keys carry 256 random bits: a fast digest is enough, no password hashing needed.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def display_prefix(prefix: str) -> str:
    return f"{prefix}…"


class ApiKeyError(Exception):
    """A refused request, in OpenAI's error shape."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 401,
        error_type: str = "invalid_request_error",
        code: str | None = "invalid_api_key",
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type
        self.code = code
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": None,
                "code": self.code,
            }
        }

    @property
    def headers(self) -> dict[str, str]:
        if self.retry_after is not None:
            return {"Retry-After": str(self.retry_after)}
        if self.status == 401:
            return {"WWW-Authenticate": 'Bearer realm="v1"'}
        return {}


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """Who is calling `/v1`: what the data plane needs, without a model instance."""

    key_id: str
    name: str
    prefix: str
    allowed_service_types: frozenset[str]
    expires_at: datetime | None
    requests_per_minute: int | None
    enabled: bool
    revoked: bool
    tokens_per_minute: int | None = None
    max_budget: float | None = None  # USD per budget period
    budget_period_s: int | None = None  # None: the budget never resets
    created_at: float = 0.0  # Unix seconds: where budget periods start
    allowed_models: frozenset[str] = frozenset()

    def allows(self, service_type: str) -> bool:
        return not self.allowed_service_types or service_type in self.allowed_service_types

    def allows_model(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models

    @property
    def governed(self) -> bool:
        """Whether a request must read the key's spend and tokens before it is sent."""
        return self.max_budget is not None or self.tokens_per_minute is not None


def extract_api_key(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization: Bearer …` (what the OpenAI SDK sends) or `X-API-Key`."""
    lowered = {str(name).lower(): value for name, value in headers.items()}
    authorization = lowered.get("authorization", "").strip()
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    api_key = lowered.get("x-api-key", "").strip()
    return api_key or None


@dataclass
class _Entry:
    principal: ApiKeyPrincipal | None  # None: no such key (cached too, the cache is bounded)
    loaded_at: float


class _KeyCache:
    def __init__(self) -> None:
        self.generation: str | None = None
        self.entries: dict[str, _Entry] = {}

    def sync(self, generation: str | None) -> None:
        if generation != self.generation:
            self.entries.clear()
            self.generation = generation

    def get(self, digest: str) -> tuple[_Entry | None, bool]:
        """(the entry, whether it is fresh); an expired entry is kept until it is re-read."""
        entry = self.entries.get(digest)
        if entry is None:
            return None, False
        return entry, time.monotonic() - entry.loaded_at <= settings.API_KEY_CACHE_MAX_AGE_SECONDS

    def put(self, digest: str, principal: ApiKeyPrincipal | None) -> None:
        if len(self.entries) >= MAX_CACHE_ENTRIES:
            self.entries.clear()
        self.entries[digest] = _Entry(principal, time.monotonic())

    def forget(self) -> None:
        self.sync(None)
        self.entries.clear()


_cache = _KeyCache()
_follower = follow(GENERATION_KEY, interval=every_request, on_forget=_cache.forget)


def invalidate_cache() -> None:
    """Tell every worker that keys changed (services call this after commit)."""
    _cache.forget()
    try:
        get_state().set(GENERATION_KEY, uuid.uuid4().hex)
    except STATE_ERRORS as exc:
        # Workers read keys from the database while the state fails, and cache entries expire.
        logger.error("API keys changed but the shared state could not be told: %s", exc)


async def _load(digest: str) -> ApiKeyPrincipal | None:
    from .models import ApiKey

    row = await ApiKey.objects.filter(key_hash=digest).afirst()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None
    return principal_of(row)


def principal_of(row: "ApiKey") -> ApiKeyPrincipal:
    """What the data plane needs of a key's row."""
    return ApiKeyPrincipal(
        key_id=str(row.pk),
        name=row.name,
        prefix=row.prefix,
        allowed_service_types=frozenset(row.allowed_service_types or []),
        expires_at=row.expires_at,
        requests_per_minute=row.requests_per_minute,
        enabled=row.enabled,
        revoked=row.revoked_at is not None,
        tokens_per_minute=row.tokens_per_minute,
        max_budget=row.max_budget,
        budget_period_s=row.budget_period_seconds,
        created_at=row.created_at.timestamp(),
        allowed_models=frozenset(row.allowed_models or []),
    )


async def _principal(digest: str) -> ApiKeyPrincipal | None:
    reading = await _follower.aread()
    if not reading.available:
        _cache.sync("<state unavailable>")
        return await _load(digest)
    _cache.sync(reading.get(GENERATION_KEY))
    entry, fresh = _cache.get(digest)
    metrics.cache_lookup("apiKeys", hit=fresh)
    if entry is not None and fresh:
        return entry.principal
    try:
        principal = await _load(digest)
    except DatabaseError as exc:
        if entry is None:
            raise
        logger.warning(
            "API key answered from an expired cache entry, database unavailable: %s", exc
        )
        return entry.principal
    _cache.put(digest, principal)
    return principal


def _invalid(message: str = "Incorrect API key provided.") -> ApiKeyError:
    return ApiKeyError(message, status=401, error_type="invalid_request_error")


async def authenticate_api_key(raw_key: str, *, service_type: str | None) -> ApiKeyPrincipal:
    """The principal of a valid key allowed to use `service_type`; raises ApiKeyError otherwise
    (401 unknown/disabled/revoked/expired, 403 service type not allowed). The key's requests per
    minute are enforced on the /v1 path with the other rate limits (routing.resilience)."""
    if not raw_key:
        raise _invalid(
            "You didn't provide an API key. Send it as `Authorization: Bearer sk-…` or `X-API-Key`."
        )
    if not raw_key.startswith(KEY_PREFIX):
        raise _invalid()
    principal = await _principal(hash_api_key(raw_key))
    if principal is None:
        raise _invalid()
    if principal.revoked or not principal.enabled:
        raise ApiKeyError(
            "This API key has been revoked or disabled.", error_type="authentication_error"
        )
    if principal.expires_at is not None and principal.expires_at <= timezone.now():
        raise ApiKeyError("This API key has expired.", error_type="authentication_error")
    if service_type is not None:
        check_service_type(principal, service_type)
    return principal


def check_service_type(principal: ApiKeyPrincipal, service_type: str) -> None:
    """Raises ApiKeyError (403) unless the key may use `service_type`: the last check of
    `authenticate_api_key`, on its own for a key checked before its service was known."""
    if not principal.allows(service_type):
        raise ApiKeyError(
            f"This API key is not allowed to use the '{service_type}' service.",
            status=403,
            error_type="permission_error",
            code="service_type_not_allowed",
        )


async def authenticate_client(
    headers: Mapping[str, str], *, service_type: str | None
) -> ApiKeyPrincipal | None:
    """`authenticate_api_key` on the request's key, honouring GATEWAY_REQUIRE_API_KEY: when keys are
    not required, a request without one passes (None), but a key that is sent must be valid.
    `service_type=None` (the model list) checks the key without checking a service."""
    raw_key = extract_api_key(headers)
    if raw_key is None and not settings.GATEWAY_REQUIRE_API_KEY:
        return None
    return await authenticate_api_key(raw_key or "", service_type=service_type)


def cache_size() -> int:
    """Keys (and known-bad digests) cached by this process."""
    return len(_cache.entries)
