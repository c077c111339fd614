"""Scheduled jobs of the authentication app."""

from typing import Any

from celery import shared_task

from .models import CleanupType
from .services import iso_duration, tokens_cleanup


@shared_task(name="authjwt.cleanup_expired")
def cleanup_expired(cleanup_type: str = CleanupType.ALL) -> dict[str, Any]:
    """Remove expired tokens and expired blacklist entries. Idempotent: a rerun removes nothing more."""
    run = tokens_cleanup(cleanup_type=cleanup_type)
    return {
        "cleanupType": run.cleanup_type,
        "expiredTokensRemoved": run.expired_tokens_removed,
        "expiredBlacklistEntriesRemoved": run.expired_blacklist_entries_removed,
        "cleanupDuration": iso_duration(run.duration_seconds),
        "completedAt": run.completed_at.isoformat(),
    }
