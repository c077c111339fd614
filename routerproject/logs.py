"""The log handler the LOGGING settings give the access log: lines written by a thread.

The access log makes a line per /v1 request on the event loop (`monitoring.access_log`). A plain
StreamHandler writes it there, and a write to a pipe nobody drains fast enough (a container
runtime, a log shipper) blocks every request of the worker. Here the record is formatted on the
caller's thread (CPU only, microseconds) and queued; a daemon thread writes it to stderr.
"""

import logging
import os
import queue
import sys
import threading
from logging.handlers import QueueHandler, QueueListener


class BackgroundStreamHandler(QueueHandler):
    """Formats each record where it is made, writes it to stderr from a thread of its own (one
    per process: a forked child starts its own on its first record)."""

    def __init__(self) -> None:
        super().__init__(queue.SimpleQueue())
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._listener: QueueListener | None = None
        self._closed = False

    def enqueue(self, record: logging.LogRecord) -> None:
        if self._closed:  # a record made while the process ends: written at once
            sys.stderr.write(f"{record.msg}\n")
            return
        if self._pid != os.getpid():
            self._start()
        self.queue.put_nowait(record)

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            # A fork's copy of the parent's queue has no reader: a queue and a thread of its own.
            self.queue = queue.SimpleQueue()
            # The records arrive formatted (`prepare`): the writer adds nothing to their message.
            self._listener = QueueListener(self.queue, logging.StreamHandler())
            self._listener.start()
            self._pid = os.getpid()

    def close(self) -> None:
        """Writes what is queued, then stops the thread: `logging.shutdown` at exit, or a new
        logging configuration replacing this handler."""
        with self._lock:
            self._closed = True
            listener, self._listener = self._listener, None
            if listener is not None and self._pid == os.getpid():
                listener.stop()
        super().close()
