"""The log handler the LOGGING settings give the access log: lines written by a thread, in batches.

The access log makes a line per /v1 request on the event loop (`monitoring.access_log`). A plain
StreamHandler writes it there, and a write to a pipe nobody drains fast enough (a container
runtime, a log shipper) blocks every request of the worker. Here the record is formatted on the
caller's thread (CPU only, microseconds) and kept; a daemon thread writes what waits to stderr
every FLUSH_SECONDS in one write. Waking a thread for every line cost more CPU than the line
itself: measured, a line written per request by a queue and its listener added about 0.3 ms of
CPU to each request. At most MAX_WAITING lines wait: while stderr takes none, later lines are
dropped, and the count is written when it takes them again.
"""

import logging
import os
import sys
import threading
from collections import deque

FLUSH_SECONDS = 0.1
MAX_WAITING = 20_000


class BackgroundStreamHandler(logging.Handler):
    """Formats each record where it is made; a thread of the process writes the lines to stderr
    (one per process: a forked child starts its own on its first record)."""

    def __init__(self) -> None:
        super().__init__()
        self._guard = threading.Lock()
        self._lines: deque[str] = deque()
        self._dropped = 0
        self._pid: int | None = None
        self._wake = threading.Event()
        self._closed = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        if self._closed:  # a record made while the process ends: written at once
            sys.stderr.write(line + "\n")
            return
        if self._pid != os.getpid():
            self._start()
        if len(self._lines) >= MAX_WAITING:
            self._dropped += 1
            return
        self._lines.append(line)

    def _start(self) -> None:
        with self._guard:
            if self._pid == os.getpid():
                return
            # A fork's copy of the parent's lines has no writer: lines and a thread of its own.
            self._lines, self._dropped = deque(), 0
            threading.Thread(target=self._write_forever, name="log-writer", daemon=True).start()
            self._pid = os.getpid()

    def _write_forever(self) -> None:
        while not self._closed:
            self._wake.wait(FLUSH_SECONDS)
            self.write_waiting()

    def write_waiting(self) -> None:
        """Write every line that waits, in one write (the writer thread; at close)."""
        with self._guard:
            lines: list[str] = []
            while self._lines:
                lines.append(self._lines.popleft())
            dropped, self._dropped = self._dropped, 0
        if dropped:
            lines.append(f"{dropped} log lines dropped: stderr did not take them in time")
        if not lines:
            return
        try:
            sys.stderr.write("\n".join(lines) + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # stderr closed at exit: nothing left to write to
            pass

    def close(self) -> None:
        """Writes what waits, then lets the thread end: `logging.shutdown` at exit, or a new
        logging configuration replacing this handler."""
        self._closed = True
        self._wake.set()
        if self._pid == os.getpid():
            self.write_waiting()
        super().close()
