"""Redis as deployments that outgrow one server run it, started by the test from Debian's
`redis-server`: a Redis Cluster of three primaries, and a primary with one replica watched by a
Sentinel that can be told to fail over. Each yields the REDIS_URL the gateway is given."""

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.processes import free_port, project_env, running

READY_TIMEOUT = 30.0


def topology_problem() -> str | None:
    """None when redis-server and redis-cli can be started here, else why not."""
    missing = [name for name in ("redis-server", "redis-cli") if shutil.which(name) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (apt-get install redis-server)"
    return None


def _until(what: str, check: Callable[[], bool], timeout: float = READY_TIMEOUT) -> None:
    """Poll `check` (a server's own answer; there is no event to wait on) until it holds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s")
        time.sleep(0.05)


def _server(port: int, directory: Path, *extra: str) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    return [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(directory),
        "--save",
        "",
        "--appendonly",
        "no",
        # A replica syncs at once (the default waits 5 s for more replicas to share the transfer).
        "--repl-diskless-sync-delay",
        "0",
        *extra,
    ]


def _node(port: int) -> redis.Redis:
    return redis.Redis(port=port, socket_timeout=5, decode_responses=True)


@contextmanager
def redis_cluster(directory: Path, primaries: int = 3) -> Iterator[str]:
    """A Redis Cluster of `primaries` primaries (no replicas), every slot assigned."""
    ports = [free_port() for _ in range(primaries)]
    with ExitStack() as stack:
        for port in ports:
            command = _server(
                port,
                directory / f"node-{port}",
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                str(free_port()),
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "5000",
            )
            stack.enter_context(running(command, env=project_env()))
        for port in ports:
            _until(f"cluster node {port} answering", _node(port).ping)
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        for port in ports:
            _until(
                f"cluster node {port} serving every slot",
                lambda p=port: _node(p).cluster("info")["cluster_state"] == "ok",
            )
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)


@dataclass
class SentinelSet:
    url: str  # redis+sentinel://…/primary
    sentinel_port: int
    ports: list[int]  # the data nodes: [primary at start, replica at start]
    name: str

    def replica_ready(self) -> bool:
        """The Sentinel connected to the one replica and sees it in sync: it can promote it."""
        replicas = _node(self.sentinel_port).sentinel_slaves(self.name)
        return len(replicas) == 1 and (
            replicas[0]["flags"] == "slave" and replicas[0]["master-link-status"] == "ok"
        )

    def primary_port(self) -> int:
        _host, port = _node(self.sentinel_port).sentinel_get_master_addr_by_name(self.name)
        return int(port)

    def fail_over(self) -> int:
        """Have the Sentinel promote the replica (a planned failover: SENTINEL FAILOVER); returns
        the new primary's port once it takes writes and the old primary, demoted, follows it (until
        then a client still connected to the old one would write there)."""
        _until("the Sentinel seeing the replica in sync", self.replica_ready)
        old = self.primary_port()
        new = next(p for p in self.ports if p != old)
        _node(self.sentinel_port).execute_command("SENTINEL", "FAILOVER", self.name)
        _until("the Sentinel naming the replica as primary", lambda: self.primary_port() == new)
        _until(
            "the new primary taking writes",
            lambda: _node(new).info("replication")["role"] == "master",
        )
        _until(
            "the old primary following the new one",
            lambda: _node(old).info("replication").get("master_link_status") == "up",
        )
        return new


@contextmanager
def redis_sentinel(directory: Path, name: str = "gateway") -> Iterator[SentinelSet]:
    """A primary, one replica, and one Sentinel (quorum 1) watching them."""
    primary, replica, sentinel = free_port(), free_port(), free_port()
    with ExitStack() as stack:
        stack.enter_context(running(_server(primary, directory / "primary"), env=project_env()))
        stack.enter_context(
            running(
                _server(replica, directory / "replica", "--replicaof", "127.0.0.1", str(primary)),
                env=project_env(),
            )
        )
        _until(
            "the replica in sync",
            lambda: _node(replica).info("replication").get("master_link_status") == "up",
        )
        config = directory / "sentinel.conf"
        config.write_text(
            f"port {sentinel}\nbind 127.0.0.1\ndir {directory}\n"
            f"sentinel monitor {name} 127.0.0.1 {primary} 1\n"
            f"sentinel down-after-milliseconds {name} 2000\n"
            f"sentinel failover-timeout {name} 10000\n"
        )
        stack.enter_context(running(["redis-server", str(config), "--sentinel"], env=project_env()))
        url = f"redis+sentinel://127.0.0.1:{sentinel}/{name}/0"
        watched = SentinelSet(url, sentinel, [primary, replica], name)
        _until("the Sentinel seeing the replica in sync", watched.replica_ready)
        yield watched
