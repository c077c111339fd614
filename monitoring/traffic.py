"""This process's share of the fleet's traffic, handed to shared state every few seconds.

The overview's last hour (`monitoring.history`) needs the whole fleet's totals, but the job that
records them runs wherever Celery beat sends it: in the web process in the embedded default, in a
separate worker process (another host, even) everywhere else, where this process's Prometheus
values are not visible. So every serving process tallies what it answers (`TrafficTally`, a few
integer additions per request, no I/O) and a daemon thread pushes the tally as one small JSON entry
onto a shared list every `MONITORING_TRAFFIC_FLUSH_SECONDS`; the job drains that list into the running totals.

An entry holds counts since the previous one, so a restarted worker loses at most its last few
seconds and never makes a total go backwards. If shared state is unreachable the tally is kept and
pushed with the next flush.
"""

import atexit
import bisect
import json
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from routerproject.state import STATE_ERRORS, SharedState, get_state

logger = logging.getLogger(__name__)

PENDING_KEY = "monitoring:traffic:pending"
COUNTERS = ("requests", "errors", "lightweight", "powerful")


class TrafficTally:
    """Counts since the last `take`: requests, 5xx answers, the neural router's tiers, and request
    durations per latency bucket (not cumulative; the last bucket is +Inf). Thread-safe."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self._lock = threading.Lock()
        self._counts = self._empty()
        self._flusher_started = False
        # A forked child (a gunicorn worker) starts its own thread and counts from zero.
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self._lock = threading.Lock()
        self._counts = self._empty()
        self._flusher_started = False

    def _empty(self) -> dict[str, Any]:
        return {**dict.fromkeys(COUNTERS, 0), "latency": [0] * len(self.bounds)}

    def request(self, status: int, seconds: float) -> None:
        bucket = min(bisect.bisect_left(self.bounds, seconds), len(self.bounds) - 1)
        with self._lock:
            self._counts["requests"] += 1
            if status >= 500:
                self._counts["errors"] += 1
            self._counts["latency"][bucket] += 1
        self._ensure_flusher()

    def route(self, *, lightweight: bool) -> None:
        with self._lock:
            self._counts["lightweight" if lightweight else "powerful"] += 1
        self._ensure_flusher()

    def take(self) -> dict[str, Any] | None:
        """The counts so far (None if there are none), and start again from zero."""
        with self._lock:
            counts, self._counts = self._counts, self._empty()
        if not any(counts[name] for name in COUNTERS):
            return None
        return counts

    def give_back(self, counts: dict[str, Any]) -> None:
        """Counts a failed flush could not hand over, added to the current ones."""
        with self._lock:
            for name in COUNTERS:
                self._counts[name] += counts[name]
            latency = self._counts["latency"]
            for index, count in enumerate(counts["latency"]):
                latency[index] += count

    def flush(self, state: SharedState | None = None) -> bool:
        """Push the counts onto the shared list; False (counts kept) if shared state failed."""
        counts = self.take()
        if counts is None:
            return True
        try:
            (state or get_state()).list_push(PENDING_KEY, json.dumps(counts, separators=(",", ":")))
        except STATE_ERRORS as exc:
            self.give_back(counts)
            logger.warning("Traffic counts kept for the next flush, shared state failed: %s", exc)
            return False
        return True

    def _ensure_flusher(self) -> None:
        # Once per process, on its first count.
        if self._flusher_started:
            return
        with self._lock:
            if self._flusher_started:
                return
            self._flusher_started = True
        threading.Thread(target=self._flush_forever, name="traffic-flush", daemon=True).start()
        atexit.register(self.flush)

    def _flush_forever(self) -> None:
        interval = settings.MONITORING_TRAFFIC_FLUSH_SECONDS
        stop = threading.Event()
        while not stop.wait(interval):
            try:
                self.flush()
            except Exception:  # the thread must outlive any one failure
                logger.exception("Traffic counts not flushed")


def add_counts(totals: dict[str, Any], counts: dict[str, Any]) -> None:
    """Add one pushed entry to running totals whose `latency` is cumulative per bucket."""
    for name in COUNTERS:
        totals[name] += int(counts.get(name, 0))
    latency = counts.get("latency") or []
    if len(latency) != len(totals["latency"]):
        return
    running = 0
    for index, count in enumerate(latency):
        running += int(count)
        totals["latency"][index] += running
