"""Writes of the authentication app: issuing, rotating, revoking and cleaning up JWTs, and managing
API keys. Every function owns its transaction and tells the shared state of what it changed."""

import hashlib
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken, Token

from routerproject.exceptions import Conflict, NotFound

from . import blacklist, keys
from .errors import InvalidCredentials
from .models import ApiKey, CleanupType, IssuedToken, TokenCleanup, TokenStatus, TokenType

logger = logging.getLogger(__name__)

ROTATED_REASON = "Rotated by refresh"
REUSE_REASON = "Refresh token reused after rotation"
LOGOUT_REASON = "Logged out"
MAX_DEVICE_INFO = 512


@dataclass(frozen=True)
class IssuedPair:
    access_token: str
    refresh_token: str
    access_record: IssuedToken
    refresh_record: IssuedToken

    @property
    def expires_in(self) -> int:
        return int(jwt_settings.ACCESS_TOKEN_LIFETIME.total_seconds())


@dataclass
class BatchRevocation:
    revoked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def token_digest(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def _claim_time(token: Token, claim: str) -> datetime:
    return datetime.fromtimestamp(int(token[claim]), tz=UTC)


def _record(
    token: Token,
    *,
    user: Any,
    session_id: uuid.UUID,
    token_type: str,
    device_info: str,
    ip_address: str | None,
) -> IssuedToken:
    record = IssuedToken(
        user=user,
        jti=str(token[jwt_settings.JTI_CLAIM]),
        session_id=session_id,
        token_type=token_type,
        token_hash=token_digest(str(token)),
        issued_at=_claim_time(token, "iat"),
        expires_at=_claim_time(token, "exp"),
        device_info=device_info[:MAX_DEVICE_INFO],
        ip_address=ip_address or None,
    )
    record.full_clean()
    record.save(force_insert=True)
    return record


def _issue_pair(
    *, user: Any, session_id: uuid.UUID, device_info: str, ip_address: str | None
) -> IssuedPair:
    refresh = RefreshToken.for_user(user)
    refresh["sid"] = str(session_id)
    access = refresh.access_token
    return IssuedPair(
        access_token=str(access),
        refresh_token=str(refresh),
        access_record=_record(
            access,
            user=user,
            session_id=session_id,
            token_type=TokenType.ACCESS,
            device_info=device_info,
            ip_address=ip_address,
        ),
        refresh_record=_record(
            refresh,
            user=user,
            session_id=session_id,
            token_type=TokenType.REFRESH,
            device_info=device_info,
            ip_address=ip_address,
        ),
    )


@transaction.atomic
def user_login(
    *, username: str, password: str, device_info: str = "", ip_address: str | None = None
) -> IssuedPair:
    # The password throttle counts it against the user name and the address (backends).
    user = authenticate(username=username, password=password, address=ip_address)
    if user is None or not user.is_active:
        raise InvalidCredentials("Invalid username or password")
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    return _issue_pair(
        user=user, session_id=uuid.uuid4(), device_info=device_info, ip_address=ip_address
    )


def _revoke(rows: Any, *, reason: str, actor: Any) -> list[str]:
    """Mark the ACTIVE rows of a queryset REVOKED, in the database and in the shared set."""
    now = timezone.now()
    active = rows.filter(status=TokenStatus.ACTIVE)
    jtis = list(active.values_list("jti", flat=True))
    active.filter(jti__in=jtis).update(
        status=TokenStatus.REVOKED,
        revoke_reason=reason[:255],
        revoked_at=now,
        revoked_by=actor if actor is not None and actor.is_authenticated else None,
        updated_at=now,
    )
    # Into the shared set now rather than on commit: no instant where the database says REVOKED and
    # a worker still accepts the token. A rollback leaves a live token refused (fail closed).
    blacklist.blacklist_add(jtis)
    return jtis


def token_refresh(
    *, refresh_token: str, device_info: str = "", ip_address: str | None = None
) -> IssuedPair:
    """Rotate: the presented refresh token is blacklisted and a new pair joins the same session.
    Presenting an already rotated refresh token revokes the whole session (it was probably stolen)."""
    try:
        presented = RefreshToken(refresh_token)  # type: ignore[arg-type]
    except TokenError:
        raise InvalidCredentials("Refresh token is invalid or expired") from None
    jti = str(presented[jwt_settings.JTI_CLAIM])
    reused = False
    with transaction.atomic():
        row = (
            IssuedToken.objects.select_for_update()
            .select_related("user")
            .filter(jti=jti, token_type=TokenType.REFRESH)
            .first()
        )
        if row is not None and row.status == TokenStatus.ACTIVE and row.user.is_active:
            _revoke(IssuedToken.objects.filter(pk=row.pk), reason=ROTATED_REASON, actor=None)
            return _issue_pair(
                user=row.user,
                session_id=row.session_id,
                device_info=device_info or row.device_info,
                ip_address=ip_address,
            )
        if row is not None and row.revoke_reason == ROTATED_REASON:
            _revoke(
                IssuedToken.objects.filter(session_id=row.session_id),
                reason=REUSE_REASON,
                actor=None,
            )
            reused = True
    logger.warning("Refused refresh token %s (reused: %s)", jti, reused)
    raise InvalidCredentials("Refresh token is invalid, expired or revoked")


@transaction.atomic
def token_revoke(*, token_id: uuid.UUID, reason: str = "", actor: Any) -> IssuedToken:
    """Revoke a token and, with it, the rest of its login session (else its refresh token would
    simply mint a new one)."""
    token = IssuedToken.objects.select_for_update().filter(pk=token_id).first()
    if token is None:
        raise NotFound(f"Token '{token_id}' does not exist")
    if token.status == TokenStatus.REVOKED:
        raise Conflict(f"Token '{token_id}' is already revoked")
    _revoke(
        IssuedToken.objects.filter(session_id=token.session_id),
        reason=reason or "Revoked by an operator",
        actor=actor,
    )
    token.refresh_from_db()
    return token


def tokens_revoke_batch(*, token_ids: list[str], reason: str = "", actor: Any) -> BatchRevocation:
    """Each id is revoked on its own: one failing id does not undo the others."""
    result = BatchRevocation()
    for raw_id in token_ids:
        try:
            token_revoke(token_id=uuid.UUID(str(raw_id)), reason=reason, actor=actor)
        except (ValueError, NotFound, Conflict):
            result.failed.append(str(raw_id))
        else:
            result.revoked.append(str(raw_id))
    return result


@transaction.atomic
def user_logout(*, user: Any, jti: str | None, all_sessions: bool = False) -> int:
    """Revoke the caller's current login session (the one of the presented token), or all of them."""
    if all_sessions:
        rows = IssuedToken.objects.filter(user=user)
    elif jti:
        session = IssuedToken.objects.filter(jti=jti, user=user).values("session_id")
        rows = IssuedToken.objects.filter(session_id__in=session)
    else:
        return 0
    return len(_revoke(rows, reason=LOGOUT_REASON, actor=user))


@transaction.atomic
def user_sessions_end(*, user: Any, reason: str) -> int:
    """Revoke every token of the user (their credentials changed): on every worker at once, since
    `_revoke` adds them to the shared set."""
    revoked = _revoke(IssuedToken.objects.filter(user=user), reason=reason, actor=None)
    if revoked:
        logger.info("Revoked %d tokens of user %s: %s", len(revoked), user.pk, reason)
    return len(revoked)


def iso_duration(seconds: float) -> str:
    """ISO 8601 duration as in the seed: `PT2.5S`."""
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return f"PT{text or '0'}S"


def tokens_cleanup(*, cleanup_type: str = CleanupType.ALL) -> TokenCleanup:
    """Delete expired tokens and/or expired blacklist entries (revoked tokens past their expiry,
    which can never be presented again). Idempotent: a second run removes nothing."""
    if cleanup_type not in CleanupType.values:
        raise ValueError(f"Unknown cleanup type {cleanup_type!r}")
    started = time.perf_counter()
    now = timezone.now()
    expired = IssuedToken.objects.filter(expires_at__lte=now)
    tokens_removed = blacklist_removed = 0
    removed_jtis: list[str] = []
    with transaction.atomic():
        if cleanup_type in (CleanupType.EXPIRED_TOKENS, CleanupType.ALL):
            tokens_removed, _ = expired.exclude(status=TokenStatus.REVOKED).delete()
        if cleanup_type in (CleanupType.EXPIRED_BLACKLIST, CleanupType.ALL):
            entries = expired.filter(status=TokenStatus.REVOKED)
            removed_jtis = list(entries.values_list("jti", flat=True))
            blacklist_removed, _ = entries.filter(jti__in=removed_jtis).delete()
        run = TokenCleanup(
            cleanup_type=cleanup_type,
            expired_tokens_removed=tokens_removed,
            expired_blacklist_entries_removed=blacklist_removed,
            duration_seconds=time.perf_counter() - started,
            completed_at=timezone.now(),
        )
        run.full_clean()
        run.save()
    blacklist.blacklist_remove(removed_jtis)
    return run


# API keys


def _api_keys_changed() -> None:
    # Before commit (the change may be read by another worker the instant it commits) and after it
    # (a worker may have re-cached the old row in between).
    keys.invalidate_cache()
    transaction.on_commit(keys.invalidate_cache)


@transaction.atomic
def api_key_create(
    *,
    name: str,
    allowed_service_types: list[str] | None = None,
    expires_at: datetime | None = None,
    requests_per_minute: int | None = None,
    actor: Any = None,
    **governance: Any,
) -> tuple[ApiKey, str]:
    """Returns the key and its clear text, which is shown this once and never stored.
    `governance`: tokens_per_minute, max_budget, budget_duration, allowed_models, metadata."""
    unknown = set(governance) - GOVERNANCE_FIELDS
    if unknown:
        raise ValueError(f"Unknown API key fields {sorted(unknown)}")
    raw_key = keys.generate_api_key()
    api_key = ApiKey(
        name=name,
        prefix=raw_key[: keys.DISPLAY_PREFIX_LENGTH],
        key_hash=keys.hash_api_key(raw_key),
        allowed_service_types=sorted(set(allowed_service_types or [])),
        expires_at=expires_at,
        requests_per_minute=requests_per_minute,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        **governance,
    )
    api_key.full_clean()
    api_key.save(force_insert=True)
    _api_keys_changed()
    return api_key, raw_key


GOVERNANCE_FIELDS = frozenset(
    {"tokens_per_minute", "max_budget", "budget_duration", "allowed_models", "metadata"}
)
UPDATABLE_API_KEY_FIELDS = (
    frozenset({"name", "allowed_service_types", "expires_at", "requests_per_minute", "enabled"})
    | GOVERNANCE_FIELDS
)


@transaction.atomic
def api_key_update(*, api_key_id: uuid.UUID, changes: Mapping[str, Any]) -> ApiKey:
    unknown = set(changes) - UPDATABLE_API_KEY_FIELDS
    if unknown:
        raise ValueError(f"Cannot change {sorted(unknown)}")
    api_key = ApiKey.objects.select_for_update().filter(pk=api_key_id).first()
    if api_key is None:
        raise NotFound(f"API key '{api_key_id}' does not exist")
    if api_key.revoked_at is not None:
        raise Conflict("A revoked API key cannot be changed")
    for name, value in changes.items():
        if name == "allowed_service_types":
            value = sorted(set(value or []))
        setattr(api_key, name, value)
    api_key.full_clean()
    api_key.save()
    _api_keys_changed()
    return api_key


@transaction.atomic
def api_key_revoke(*, api_key_id: uuid.UUID, actor: Any) -> ApiKey:
    api_key = ApiKey.objects.select_for_update().filter(pk=api_key_id).first()
    if api_key is None:
        raise NotFound(f"API key '{api_key_id}' does not exist")
    if api_key.revoked_at is not None:
        raise Conflict(f"API key '{api_key_id}' is already revoked")
    api_key.revoked_at = timezone.now()
    api_key.revoked_by = actor if actor is not None and actor.is_authenticated else None
    api_key.enabled = False
    api_key.full_clean()
    api_key.save()
    _api_keys_changed()
    return api_key
