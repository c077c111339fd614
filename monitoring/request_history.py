"""The request history: one row per finished /v1 request, written in batches off the request path.

The data plane calls `record_exchange` on the event loop once a request has ended (routing
registers it with `routing.dataplane.ended`): it copies the exchange's figures into a `RequestRow`
(a tuple of plain values) and appends it to this process's `RequestHistory` buffer, and that is
all it does there. A daemon thread writes what waits with one `bulk_create` every
`REQUEST_HISTORY_FLUSH_SECONDS`, or as soon as `REQUEST_HISTORY_BATCH_SIZE` rows wait, and once
more when the process exits. The buffer is bounded (`REQUEST_HISTORY_BUFFER_ROWS`): when the
database does not keep up, new rows are dropped and counted, and the writer logs the count.
A failed write keeps its rows for the next one, as far as the bound allows.
"""

import atexit
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from .ended_exchange import EndedExchange

logger = logging.getLogger(__name__)


class RequestRow(NamedTuple):
    """One request as the buffer holds it: the fields of `RequestRecord`, `received_at` in Unix
    seconds, times in milliseconds, `cost` a float (the writer makes the database's types)."""

    request_id: str
    received_at: float
    key_id: str
    key_name: str
    service_type: str
    model: str
    served_model: str
    instance_id: str
    tier: str
    status: int
    latency_ms: float
    overhead_ms: float
    first_byte_ms: float | None
    prompt_tokens: int
    completion_tokens: int
    usage_estimated: bool
    cost: float | None
    retries: int
    fallback_model: str
    error: str


def row_of(exchange: EndedExchange, status: int, ended: float) -> RequestRow:
    """The row of an exchange that ended at perf_counter `ended` (overhead as the metrics count
    it: the time not spent waiting on upstreams)."""
    total = max(0.0, ended - exchange.started)
    first_byte = exchange.first_byte
    return RequestRow(
        exchange.request_id,
        exchange.received_at,
        exchange.key_id,
        exchange.key_name,
        exchange.service_type,
        exchange.model,
        exchange.served_model,
        exchange.instance_id,
        exchange.decision,
        status,
        total * 1000,
        max(0.0, total - exchange.upstream_wait) * 1000,
        None if first_byte is None else max(0.0, first_byte - exchange.started) * 1000,
        exchange.prompt_tokens,
        exchange.completion_tokens,
        exchange.usage_estimated,
        exchange.cost,
        exchange.retries,
        exchange.fallback_model,
        exchange.error,
    )


Writer = Callable[[Sequence[RequestRow]], None]


def _write_to_database(rows: Sequence[RequestRow]) -> None:
    from .services import request_records_write

    request_records_write(rows=rows)


class RequestHistory:
    """The buffer of one process and its writer. `record` is the event loop's part (an append
    under a lock nobody holds for longer than a swap); `flush` writes what waits, from the writer
    thread, at exit, or when a test calls it; `due`/`until_due` read the injected `clock`."""

    def __init__(
        self,
        *,
        capacity: int,
        batch_size: int,
        flush_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        write: Writer = _write_to_database,
        background: bool = True,
    ) -> None:
        self.capacity = capacity
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.clock = clock
        self.write = write
        self.background = background
        self._reset()
        # A forked child (a gunicorn worker) starts empty, with a writer of its own.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one flush at a time: the thread, exit, a test
        self._wake = threading.Event()
        self._rows: deque[RequestRow] = deque()
        self._dropped = 0
        self._last_flush = self.clock()
        self._writer_started = False

    @property
    def waiting(self) -> int:
        return len(self._rows)

    def record(self, row: RequestRow) -> None:
        """Keep one row for the next flush; drop it (counted) when the buffer is full."""
        with self._lock:
            if len(self._rows) >= self.capacity:
                self._dropped += 1
                return
            self._rows.append(row)
            full = len(self._rows) >= self.batch_size
        if full and not self._wake.is_set():
            self._wake.set()
        if self.background and not self._writer_started:
            self._start_writer()

    def due(self) -> bool:
        """A batch is full, or rows have waited since the last flush for the flush interval."""
        waiting = len(self._rows)
        if waiting >= self.batch_size:
            return True
        return waiting > 0 and self.clock() - self._last_flush >= self.flush_seconds

    def until_due(self) -> float:
        """Seconds the writer may sleep before the next flush is due (0: now)."""
        if self.due():
            return 0.0
        left = self.flush_seconds - (self.clock() - self._last_flush)
        if left <= 0:  # nothing waited through a whole interval: the next one starts now
            self._last_flush = self.clock()
            return self.flush_seconds
        return left

    def flush(self) -> int:
        """Write every waiting row; returns how many were written (0 when the write failed, the
        rows then kept for the next flush)."""
        with self._flushing:
            with self._lock:
                rows, self._rows = self._rows, deque()
                dropped, self._dropped = self._dropped, 0
                self._last_flush = self.clock()
            if dropped:
                logger.warning(
                    "Request history: %d requests not recorded, the buffer of %d rows was full",
                    dropped,
                    self.capacity,
                )
            if not rows:
                return 0
            try:
                self.write(list(rows))
            except DatabaseError as exc:
                self._give_back(rows)
                logger.warning("Request history kept for the next flush, database failed: %s", exc)
                return 0
            return len(rows)

    @property
    def dropped(self) -> int:
        """Rows dropped since the last flush (the flush logs and resets the count)."""
        return self._dropped

    def _give_back(self, rows: deque[RequestRow]) -> None:
        with self._lock:
            kept = list(rows)[: max(0, self.capacity - len(self._rows))]
            self._dropped += len(rows) - len(kept)
            self._rows.extendleft(reversed(kept))

    def _start_writer(self) -> None:
        with self._lock:
            if self._writer_started:
                return
            self._writer_started = True
        threading.Thread(target=self._write_forever, name="request-history", daemon=True).start()
        atexit.register(self.flush)

    def _write_forever(self) -> None:
        while True:
            self._wake.wait(self.until_due())
            self._wake.clear()
            if not self.due():
                continue
            try:
                close_old_connections()  # this thread's own connection, kept within its max age
                self.flush()
            except Exception:  # the thread must outlive any one failure
                logger.exception("Request history not flushed")


_history: RequestHistory | None = None


def current() -> RequestHistory:
    """This process's history, made from the settings on first use."""
    global _history
    if _history is None:
        _history = RequestHistory(
            capacity=settings.REQUEST_HISTORY_BUFFER_ROWS,
            batch_size=settings.REQUEST_HISTORY_BATCH_SIZE,
            flush_seconds=settings.REQUEST_HISTORY_FLUSH_SECONDS,
        )
    return _history


def record_exchange(exchange: EndedExchange, status: int, ended: float) -> None:
    """The listener of ended /v1 requests (on the event loop: no I/O, an append)."""
    if settings.REQUEST_HISTORY_ENABLED:
        current().record(row_of(exchange, status, ended))


def flush() -> int:
    """Write what this process holds now (the serve command's shutdown; atexit does it too)."""
    return _history.flush() if _history is not None else 0
