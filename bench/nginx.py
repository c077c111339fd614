"""A plain nginx reverse proxy in front of the simulated backend: the reference row of
bench/gateway.py (what any proxy costs at the least on the same machine).

Debian's nginx binary, run in the foreground from a temporary directory that holds its generated
configuration, pid file, error log and temp paths, so it needs nothing under /etc or /var.
"""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.processes import free_port, running

# Where Debian's package puts it; /usr/sbin is not on every PATH.
DEBIAN_BINARY = "/usr/sbin/nginx"


def binary() -> str | None:
    """The nginx binary, or None when it is not installed."""
    return shutil.which("nginx") or (DEBIAN_BINARY if Path(DEBIAN_BINARY).exists() else None)


def version(executable: str) -> str:
    """`1.22.1`: from what `nginx -v` prints (on stderr), `nginx version: nginx/1.22.1`."""
    result = subprocess.run([executable, "-v"], capture_output=True, text=True, check=False)
    return result.stderr.strip().rpartition("/")[2]


def config(folder: Path, port: int, upstream_port: int, workers: int) -> str:
    """A minimal reverse proxy on 127.0.0.1:port to the backend on upstream_port."""
    return f"""
worker_processes {workers};
error_log {folder}/error.log warn;
pid {folder}/nginx.pid;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    # The load generator keeps its connections for the whole run and does not reconnect: by
    # default nginx closes a client connection after 1,000 requests.
    keepalive_requests 100000000;

    upstream backend {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
        keepalive_requests 100000000;
    }}

    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://backend;
            # Keep-alive connections to the backend, as the gateway's pool does.
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # Each chunk goes to the client as it arrives, so time to first byte means something.
            proxy_buffering off;
        }}
    }}
}}
"""


@contextmanager
def proxy(executable: str, upstream_port: int, workers: int) -> Iterator[tuple[int, int]]:
    """nginx with `workers` worker processes in front of the backend on upstream_port, serving
    once it answers /health through the proxy; yields (its port, the master's pid) and stops it."""
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as folder:
        port = free_port()
        conf = Path(folder) / "nginx.conf"
        conf.write_text(config(Path(folder), port, upstream_port, workers))
        command = [executable, "-p", folder, "-c", str(conf), "-g", "daemon off;"]
        with running(
            command, env=dict(os.environ), ready_url=f"http://127.0.0.1:{port}/health"
        ) as master:
            yield port, master.pid
