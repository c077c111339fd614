"""The request history off the request path: the listener turns an exchange into a row, the buffer
keeps it (dropping and counting what does not fit), and a flush writes it in one batch, when a
batch is full, when the interval has passed (a fake clock here), at exit or when asked; a failed
write keeps its rows. The cleanup job deletes what is past the retention, in bounded batches."""

import logging
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import OperationalError

from monitoring import request_history
from monitoring.models import RequestRecord
from monitoring.request_history import RequestHistory, record_exchange, row_of
from monitoring.services import request_records_delete_expired, request_records_write
from monitoring.tasks import delete_old_request_records
from routing.dataplane import ended
from routing.dataplane.exchange import Exchange
from tests.monitoring.history_rows import row


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def history(**options) -> tuple[RequestHistory, list[list]]:
    written: list[list] = []
    options = {"capacity": 10, "batch_size": 3, "flush_seconds": 2.0, **options}
    made = RequestHistory(write=written.append, background=False, **options)
    return made, written


def test_an_exchange_becomes_a_row_of_plain_figures():
    exchange = Exchange(
        "req-42",
        started=100.0,
        received_at=1_700_000_000.5,
        upstream_wait=0.25,
        first_byte=100.1,
        instance_id="llama@http://up:1",
        service_type="chat",
        model="auto",
        served_model="llama",
        key_id="k-1",
        key_name="app",
        retries=1,
        fallback_model="small",
        decision="lightweight",
        prompt_tokens=7,
        completion_tokens=3,
        usage_estimated=True,
        cost=0.0125,
        error="",
    )
    got = row_of(exchange, 200, ended=100.5)
    assert got.request_id == "req-42" and got.received_at == 1_700_000_000.5
    assert (got.key_id, got.key_name, got.tier) == ("k-1", "app", "lightweight")
    assert (got.model, got.served_model, got.instance_id) == ("auto", "llama", "llama@http://up:1")
    assert got.latency_ms == pytest.approx(500.0)
    assert got.overhead_ms == pytest.approx(250.0)
    assert got.first_byte_ms == pytest.approx(100.0)
    assert (got.prompt_tokens, got.completion_tokens, got.usage_estimated) == (7, 3, True)
    assert (got.cost, got.retries, got.fallback_model, got.status) == (0.0125, 1, "small", 200)
    assert row_of(Exchange("r", started=1.0), 499, ended=1.0).first_byte_ms is None


def test_the_listener_is_registered_and_records_only_when_enabled(monkeypatch):
    assert record_exchange in ended._listeners
    buffer, _ = history()
    monkeypatch.setattr(request_history, "_history", buffer)
    monkeypatch.setattr(settings, "REQUEST_HISTORY_ENABLED", False)
    ended.exchange_ended(Exchange("off"), 200, 1.0)
    assert buffer.waiting == 0
    monkeypatch.setattr(settings, "REQUEST_HISTORY_ENABLED", True)
    ended.exchange_ended(Exchange("on"), 200, 1.0)
    assert buffer.waiting == 1


def test_a_flush_is_due_after_the_interval_or_with_a_full_batch():
    clock = Clock()
    buffer, written = history(clock=clock)
    assert not buffer.due()  # nothing waits
    buffer.record(row(request_id="a"))
    assert not buffer.due() and buffer.until_due() == pytest.approx(2.0)
    clock.now += 1.5
    assert not buffer.due() and buffer.until_due() == pytest.approx(0.5)
    clock.now += 0.5
    assert buffer.due() and buffer.until_due() == 0
    assert buffer.flush() == 1
    assert [r.request_id for r in written[0]] == ["a"]
    assert not buffer.due()
    for name in "bcd":
        buffer.record(row(request_id=name))
    assert buffer.due()  # three rows: a batch, whatever the clock says
    assert buffer.flush() == 3 and [r.request_id for r in written[1]] == ["b", "c", "d"]
    assert buffer.flush() == 0 and len(written) == 2


def test_an_idle_interval_starts_the_next_one_instead_of_spinning():
    clock = Clock()
    buffer, _ = history(clock=clock)
    clock.now += 10
    assert buffer.until_due() == pytest.approx(2.0)  # empty: wait a whole interval
    buffer.record(row())
    clock.now += 1
    assert buffer.until_due() == pytest.approx(1.0)


def test_a_full_buffer_drops_and_counts_and_the_flush_logs_the_count(caplog):
    buffer, written = history(capacity=2, batch_size=100)
    for name in "abcde":
        buffer.record(row(request_id=name))
    assert buffer.waiting == 2 and buffer.dropped == 3
    with caplog.at_level(logging.WARNING, logger="monitoring.request_history"):
        assert buffer.flush() == 2
    assert "3 requests not recorded" in caplog.text
    assert [r.request_id for r in written[0]] == ["a", "b"]
    assert buffer.dropped == 0


def test_a_failed_write_keeps_its_rows_for_the_next_flush(caplog):
    outcomes = [OperationalError("database is locked"), None]
    written: list[list] = []

    def write(rows):
        failure = outcomes.pop(0)
        if failure:
            raise failure
        written.append(rows)

    buffer = RequestHistory(
        capacity=3, batch_size=10, flush_seconds=1, write=write, background=False
    )
    buffer.record(row(request_id="first"))
    buffer.record(row(request_id="second"))
    assert buffer.flush() == 0
    assert "database is locked" in caplog.text
    buffer.record(row(request_id="third"))
    buffer.record(row(request_id="fourth"))  # over the bound once the failed rows are back
    assert buffer.flush() == 3
    assert [r.request_id for r in written[0]] == ["first", "second", "third"]


def test_the_writer_thread_flushes_a_full_batch_without_waiting_for_the_interval():
    flushed = threading.Event()
    written: list[list] = []

    def write(rows):
        written.append(rows)
        flushed.set()

    buffer = RequestHistory(capacity=10, batch_size=2, flush_seconds=3600, write=write)
    buffer.record(row(request_id="x"))
    buffer.record(row(request_id="y"))
    assert flushed.wait(10), "the writer did not flush a full batch"
    assert [r.request_id for r in written[0]] == ["x", "y"]


@pytest.mark.django_db
def test_rows_are_stored_with_figures_made_to_fit_their_columns():
    at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    stored = request_records_write(
        rows=[
            row(request_id="r1", received_at=at.timestamp(), model="m" * 500, cost=0.00012345678),
            row(request_id="r2", cost=float("nan"), prompt_tokens=-1, first_byte_ms=3.5),
        ]
    )
    assert stored == 2
    first = RequestRecord.objects.get(request_id="r1")
    assert first.received_at == at and len(first.model) == 200
    assert first.cost == Decimal("0.00012346")
    second = RequestRecord.objects.get(request_id="r2")
    assert second.cost is None and second.prompt_tokens == 0 and second.first_byte_ms == 3.5


@pytest.mark.django_db
def test_the_cleanup_deletes_past_the_retention_in_batches_and_again_nothing():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    old = [
        row(request_id=f"old-{i}", received_at=(now - timedelta(days=31)).timestamp())
        for i in range(5)
    ]
    recent = row(request_id="recent", received_at=(now - timedelta(days=29)).timestamp())
    request_records_write(rows=[*old, recent])
    assert (
        request_records_delete_expired(retention_days=30, batch_size=2, max_batches=2, now=now) == 4
    )
    assert RequestRecord.objects.filter(request_id__startswith="old-").count() == 1
    assert request_records_delete_expired(retention_days=30, batch_size=2, now=now) == 1
    assert request_records_delete_expired(retention_days=30, batch_size=2, now=now) == 0
    assert list(RequestRecord.objects.values_list("request_id", flat=True)) == ["recent"]
    assert request_records_delete_expired(retention_days=0, now=now + timedelta(days=90)) == 0
    assert RequestRecord.objects.count() == 1


@pytest.mark.django_db
def test_the_cleanup_job_uses_the_retention_setting_and_is_scheduled(settings):
    settings.REQUEST_HISTORY_RETENTION_DAYS = 1
    request_records_write(
        rows=[
            row(
                request_id="stale", received_at=(datetime.now(UTC) - timedelta(days=2)).timestamp()
            ),
            row(request_id="fresh"),
        ]
    )
    assert delete_old_request_records.delay().get() == 1
    assert delete_old_request_records.delay().get() == 0
    assert list(RequestRecord.objects.values_list("request_id", flat=True)) == ["fresh"]
    scheduled = settings.CELERY_BEAT_SCHEDULE["monitoring.delete_old_request_records"]
    assert scheduled["task"] == "monitoring.delete_old_request_records"
