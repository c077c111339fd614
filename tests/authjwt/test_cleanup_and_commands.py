"""The scheduled cleanup, the blacklist's recovery paths, and the make-run commands."""

from datetime import timedelta

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from authjwt import blacklist
from authjwt.models import ApiKey, IssuedToken, TokenCleanup, TokenStatus
from authjwt.services import iso_duration, token_revoke, user_login
from authjwt.tasks import cleanup_expired
from routerproject import generations
from routerproject.state import get_state
from tests.authjwt.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.django_db


def _sessions(count: int) -> list:
    return [user_login(username="operator", password=STAFF_PASSWORD) for _ in range(count)]


def test_the_cleanup_job_is_scheduled_daily_at_two_utc():
    entry = settings.CELERY_BEAT_SCHEDULE["authjwt.cleanup_expired"]
    assert entry["task"] == "authjwt.cleanup_expired"
    assert entry["schedule"] == crontab(hour=2, minute=0)
    assert settings.CELERY_TIMEZONE == "UTC"


def test_the_cleanup_job_removes_expired_rows_once(staff_user):
    expired, revoked, live = _sessions(3)
    token_revoke(token_id=revoked.access_record.pk, actor=None)
    IssuedToken.objects.filter(
        session_id__in=[expired.access_record.session_id, revoked.access_record.session_id]
    ).update(expires_at=timezone.now() - timedelta(seconds=1))

    first = cleanup_expired.delay().get()
    assert first["expiredTokensRemoved"] == 2
    assert first["expiredBlacklistEntriesRemoved"] == 2
    assert first["cleanupType"] == "ALL" and first["cleanupDuration"].startswith("PT")
    assert set(IssuedToken.objects.values_list("session_id", flat=True)) == {
        live.access_record.session_id
    }
    second = cleanup_expired.delay().get()
    assert second["expiredTokensRemoved"] == 0 and second["expiredBlacklistEntriesRemoved"] == 0
    assert TokenCleanup.objects.count() == 2


def test_iso_durations_read_like_the_seed():
    assert iso_duration(2.5) == "PT2.5S"
    assert iso_duration(0.0) == "PT0S"
    assert iso_duration(0.0123) == "PT0.012S"


def test_a_lost_shared_set_is_rebuilt_from_the_database(staff_user):
    (pair,) = _sessions(1)
    token_revoke(token_id=pair.access_record.pk, actor=None)
    get_state().clear()  # Redis restarted without persistence
    generations.forget()
    assert blacklist.is_revoked(pair.access_record.jti)
    assert get_state().set_contains(blacklist.REVOKED_SET_KEY, pair.access_record.jti)


def test_the_database_answers_when_the_state_fails(staff_user, monkeypatch):
    revoked, live = _sessions(2)
    token_revoke(token_id=revoked.access_record.pk, actor=None)
    state = get_state()

    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(state, "set_contains", broken)
    assert blacklist.is_revoked(revoked.access_record.jti)
    assert not blacklist.is_revoked(live.access_record.jti)
    assert blacklist.is_revoked("never-issued")  # unknown to the source of truth: refused
    figures = blacklist.meter.figures()
    assert figures.validations >= 3 and figures.hit_rate < 1


def test_a_revocation_during_an_outage_reaches_the_set_when_the_state_returns(
    staff_user, monkeypatch
):
    (pair,) = _sessions(1)
    state = get_state()
    real_add = state.set_add

    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(state, "set_add", broken)
    token_revoke(token_id=pair.access_record.pk, actor=None)
    assert IssuedToken.objects.get(pk=pair.access_record.pk).status == TokenStatus.REVOKED
    monkeypatch.setattr(state, "set_add", real_add)
    assert blacklist.is_revoked(pair.access_record.jti)  # rebuilt before answering
    assert state.set_contains(blacklist.REVOKED_SET_KEY, pair.access_record.jti)


def test_a_worker_that_missed_the_outage_still_refuses_a_token_revoked_during_it(
    staff_user, monkeypatch
):
    earlier, victim, live = _sessions(3)
    token_revoke(token_id=earlier.access_record.pk, actor=None)
    assert blacklist.is_revoked(earlier.access_record.jti)  # the set is loaded and marked
    state = get_state()
    real_add = state.set_add

    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(state, "set_add", broken)
    token_revoke(token_id=victim.access_record.pk, actor=None)  # the set misses it
    monkeypatch.setattr(state, "set_add", real_add)
    assert not state.set_contains(blacklist.REVOKED_SET_KEY, victim.access_record.jti)
    # Another worker: it never failed a call, so only the database can tell it the set is behind.
    generations.forget()
    assert blacklist.is_revoked(victim.access_record.jti)
    assert state.set_contains(blacklist.REVOKED_SET_KEY, victim.access_record.jti)
    assert not blacklist.is_revoked(live.access_record.jti)


def test_ensure_demo_key_creates_one_key_once(capsys):
    call_command("ensure_demo_key")
    out = capsys.readouterr().out
    assert "sk-" in out and ApiKey.objects.count() == 1
    raw = next(word for word in out.split() if word.startswith("sk-"))
    assert ApiKey.objects.get().prefix == raw[:10]
    call_command("ensure_demo_key")
    assert ApiKey.objects.count() == 1
    assert raw not in capsys.readouterr().out


def test_ensure_demo_key_refuses_production(settings):
    settings.SETTINGS_MODULE = "routerproject.settings.production"
    with pytest.raises(CommandError):
        call_command("ensure_demo_key")
    assert not ApiKey.objects.exists()
