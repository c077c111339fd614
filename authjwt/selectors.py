"""Reads of the authentication app."""

import os
import resource
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token

from routerproject.exceptions import InvalidInput, NotFound
from routerproject.state import get_state

from . import blacklist
from .models import ApiKey, IssuedToken, TokenCleanup, TokenStatus

CLEANUP_TASK = "authjwt.cleanup_expired"


def token_list(*, user_id: str | None = None, status: str | None = None) -> QuerySet[IssuedToken]:
    """Tokens, newest first. EXPIRED includes ACTIVE rows past their expiry (their status is only
    rewritten when they are cleaned up), and ACTIVE excludes them."""
    tokens = IssuedToken.objects.select_related("user", "revoked_by").order_by("-issued_at", "id")
    if user_id:
        tokens = tokens.filter(user__pk=user_id) if user_id.isdigit() else tokens.none()
    if status:
        now = timezone.now()
        if status == TokenStatus.ACTIVE:
            tokens = tokens.filter(status=TokenStatus.ACTIVE, expires_at__gt=now)
        elif status == TokenStatus.EXPIRED:
            tokens = tokens.filter(
                Q(status=TokenStatus.EXPIRED) | Q(status=TokenStatus.ACTIVE, expires_at__lte=now)
            )
        elif status == TokenStatus.REVOKED:
            tokens = tokens.filter(status=TokenStatus.REVOKED)
        else:
            raise InvalidInput(errors={"status": ["Must be one of ACTIVE, REVOKED, EXPIRED."]})
    return tokens


def token_get(*, token_id: str) -> IssuedToken:
    try:
        pk = uuid.UUID(token_id)
    except ValueError:
        raise NotFound(f"Token '{token_id}' does not exist") from None
    token = IssuedToken.objects.select_related("user", "revoked_by").filter(pk=pk).first()
    if token is None:
        raise NotFound(f"Token '{token_id}' does not exist")
    return token


def effective_status(token: IssuedToken, *, now: datetime | None = None) -> str:
    if token.status == TokenStatus.ACTIVE and token.expires_at <= (now or timezone.now()):
        return TokenStatus.EXPIRED
    return token.status


@dataclass(frozen=True)
class TokenValidation:
    valid: bool
    reason: str
    token: IssuedToken | None = None
    token_type: str | None = None


def token_validation(*, raw_token: str) -> TokenValidation:
    """Whether a token (access or refresh) is genuine, unexpired, recorded and not revoked."""
    parsed: Token | None = None
    for token_class in (AccessToken, RefreshToken):
        try:
            parsed = token_class(raw_token)  # type: ignore[arg-type]
            break
        except TokenError:
            continue
    if parsed is None:
        return TokenValidation(False, "Token is malformed, badly signed or expired")
    jti = str(parsed.get(jwt_settings.JTI_CLAIM, ""))
    record = IssuedToken.objects.select_related("user").filter(jti=jti).first()
    token_type = str(parsed.get(jwt_settings.TOKEN_TYPE_CLAIM, "")).upper()
    if record is None:
        return TokenValidation(False, "Token is unknown to this gateway", None, token_type)
    if blacklist.is_revoked(jti) or record.status != TokenStatus.ACTIVE:
        return TokenValidation(False, "Token has been revoked", record, token_type)
    if not record.user.is_active:
        return TokenValidation(False, "User is inactive", record, token_type)
    return TokenValidation(True, "Token is valid", record, token_type)


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("created_by").order_by("-created_at", "id")


def api_key_get(*, api_key_id: str) -> ApiKey:
    try:
        pk = uuid.UUID(api_key_id)
    except ValueError:
        raise NotFound(f"API key '{api_key_id}' does not exist") from None
    api_key = api_key_list().filter(pk=pk).first()
    if api_key is None:
        raise NotFound(f"API key '{api_key_id}' does not exist")
    return api_key


def _megabytes(value: int | None) -> str | None:
    return None if value is None else f"{value / (1024 * 1024):.1f}MB"


def _process_rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _memory_usage(state: Any, reachable: bool) -> dict[str, Any]:
    """Redis's own memory figures when Redis holds the set; else this process's resident memory."""
    used: int | None
    maximum: int | None = None
    if state.backend_name == "redis":
        if not reachable:
            return {"used": None, "max": None, "usagePercentage": None}
        info = state.client.info("memory")
        used = int(info.get("used_memory", 0))
        maximum = int(info.get("maxmemory", 0)) or None
    else:
        used = _process_rss_bytes()
    return {
        "used": _megabytes(used),
        "max": _megabytes(maximum),
        "usagePercentage": round(100 * used / maximum, 1) if used and maximum else None,
    }


def _next_cleanup(now: datetime) -> datetime | None:
    entry = settings.CELERY_BEAT_SCHEDULE.get(CLEANUP_TASK)
    schedule = entry and entry.get("schedule")
    if schedule is None or not hasattr(schedule, "remaining_estimate"):
        return None
    remaining: timedelta = schedule.remaining_estimate(now)
    # The estimate is measured from the scheduler's own clock reading: round off the drift.
    return (now + remaining + timedelta(milliseconds=500)).replace(microsecond=0)


def blacklist_stats() -> dict[str, Any]:
    now = timezone.now()
    state = get_state()
    reachable = state.ping()
    revoked = IssuedToken.objects.filter(status=TokenStatus.REVOKED, expires_at__gt=now)
    shared_entries: int | None = None
    if reachable:
        try:
            shared_entries = state.set_size(blacklist.REVOKED_SET_KEY)
        except blacklist.STATE_ERRORS:
            reachable = False
    last_cleanup = TokenCleanup.objects.order_by("-completed_at").first()
    figures = blacklist.meter.figures()
    fallback_ago = blacklist.last_fallback_seconds_ago()
    if state.backend_name == "memory":
        connection = "NOT_CONFIGURED"
    else:
        connection = "HEALTHY" if reachable else "UNREACHABLE"
    return {
        "blacklistSize": revoked.count(),
        "sharedStateEntries": shared_entries,
        "memoryUsage": _memory_usage(state, reachable),
        "lastCleanup": last_cleanup.completed_at if last_cleanup else None,
        "nextScheduledCleanup": _next_cleanup(now),
        "configurationStatus": {
            "persistenceEnabled": True,
            "primaryStorage": state.backend_name,
            "fallbackStorage": "database",
            "redisConnectionStatus": connection,
            "fallbackInUse": not reachable,
            "lastFallbackSecondsAgo": None if fallback_ago is None else round(fallback_ago, 1),
        },
        "performanceMetrics": {
            "averageValidationTime": f"{figures.average_ms:.3f}ms",
            "cacheHitRate": round(figures.hit_rate, 4),
            "totalValidations": figures.validations,
        },
    }
