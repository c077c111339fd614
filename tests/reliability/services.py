"""Real services a fault test may break: a private Redis it can stop and start, a TCP proxy in front
of PostgreSQL it can cut. The shared Redis and PostgreSQL servers are never stopped, flushed or
reconfigured: other test runs use them."""

import contextlib
import socket
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

from tests.processes import ROOT, free_port


class PrivateRedis:
    """A redis-server of the test's own on a free port. Its append-only file (fsync on every write)
    survives a stop, so a restart finds its data again, as a production Redis with persistence would."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        assert self.process is None, "already running"
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.directory), "--save", "", "--appendonly", "yes",
            "--appendfsync", "always", "--protected-mode", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if client.ping():
                    return
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on {self.port} did not start") from None
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        """Shut the server down (SIGTERM: it finishes its append-only file and exits)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2)


class TcpProxy:
    """Forwards 127.0.0.1:port to a target address, one pair of threads per connection. `cut()`
    resets every open connection and refuses new ones (they are accepted and reset at once) until
    `restore()`: what a client sees when the network to its server fails. `cut_on(pattern)` cuts
    when a client sends those bytes, instead of forwarding them: a failure at a chosen point of a
    conversation (e.g. in the middle of a transaction)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port), backlog=128)
        self._cut = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False
        self._trigger: bytes | None = None
        self.accepted = 0
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self.accepted += 1
                self._open.update((client, server))
            for source, sink, outbound in ((client, server, True), (server, client, False)):
                threading.Thread(
                    target=self._pump, args=(source, sink, outbound), daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        try:
            while data := source.recv(65536):
                trigger = self._trigger
                if outbound and trigger is not None and trigger in data:
                    self._trigger = None
                    self.cut()
                    return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                self._forget(end)

    def _forget(self, end: socket.socket) -> None:
        with self._lock:
            known = end in self._open
            self._open.discard(end)
        if known:
            _reset(end)

    def cut(self) -> None:
        self._cut.set()
        with self._lock:
            ends, self._open = list(self._open), set()
        for end in ends:
            _reset(end)

    @property
    def is_cut(self) -> bool:
        return self._cut.is_set()

    def cut_on(self, pattern: bytes) -> None:
        self._trigger = pattern

    def restore(self) -> None:
        self._trigger = None
        self._cut.clear()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()


def _reset(end: socket.socket) -> None:
    """Close with RST rather than FIN, like a broken link, and wake any thread blocked on it."""
    with contextlib.suppress(OSError):
        end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        end.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        end.close()


def database_url(url: str, *, name: str | None = None, port: int | None = None) -> str:
    """The URL with another database name and/or port; user, password and host kept."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    address = f"{parts.hostname}:{port or parts.port or 5432}"
    netloc = f"{credentials}@{address}" if credentials else address
    path = f"/{name}" if name is not None else parts.path
    return urlunsplit((parts.scheme, netloc, path, parts.query, parts.fragment))
