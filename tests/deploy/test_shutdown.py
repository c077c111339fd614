"""Graceful shutdown of the image's web role (gunicorn, two uvicorn workers, docker/gunicorn.conf.py):
SIGTERM to the master mid-stream closes the listening socket at once, yet the stream in flight runs
to its last chunk and `data: [DONE]`; then the server exits."""

import json
import os
import signal
import socket
import subprocess
import time

import httpx
import pytest

from routing.fakeupstream.answers import ANSWER
from tests.processes import free_port, wait_for_http

pytestmark = [pytest.mark.processes, pytest.mark.pass_independent]

CHUNKS = 16
CHUNK_DELAY_MS = 200  # about 3 s of stream


def _refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        # Connected to the backlog just as the listener closed: the kernel resets what was never
        # accepted. The listener is going; the next look is refused.
        return False


def test_sigterm_lets_a_stream_in_flight_finish_then_exits(image, deployment):
    port = free_port()
    env = deployment.env("web", port)
    assert env["WEB_CONCURRENCY"] == "2"  # the ConfigMap's
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        image.command("web"),
        cwd=image.workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_http(f"{url}/health", server)
        body = {
            "model": "fake-chat",
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        }
        headers = {
            "Authorization": f"Bearer {deployment.api_key}",
            "x-fake-chunks": str(CHUNKS),
            "x-fake-chunk-delay-ms": str(CHUNK_DELAY_MS),
        }
        events: list[str] = []
        with (
            httpx.Client(timeout=30) as client,
            client.stream(
                "POST", f"{url}/v1/chat/completions", json=body, headers=headers
            ) as response,
        ):
            assert response.status_code == 200
            lines = response.iter_lines()
            for line in lines:
                if line.startswith("data: "):
                    events.append(line.removeprefix("data: "))
                if len(events) == 3:
                    break
            os.kill(server.pid, signal.SIGTERM)  # the master, as docker stop / kubelet do
            # New connections are refused while the stream goes on (bounded wait for the workers).
            deadline = time.monotonic() + 5
            while not _refuses_connections(port):
                assert time.monotonic() < deadline, "still accepting after SIGTERM"
                time.sleep(0.05)
            refused_while_streaming = server.poll() is None
            events += [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
        assert refused_while_streaming
        assert events[-1] == "[DONE]"
        chunks = [json.loads(event) for event in events[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        assert text == ANSWER  # every chunk arrived, in order
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        assert server.wait(timeout=20) == 0
        log = server.stdout.read().decode() if server.stdout else ""
        assert "Handling signal: term" in log
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
