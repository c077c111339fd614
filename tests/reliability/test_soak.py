"""The soak's short form (bench/soak.py): mixed traffic with upstream failures and abandoned
streams for a few seconds over two gunicorn workers; afterwards nothing is in flight, no status was
unexpected, and the workers' memory grew only a little."""

import json
import subprocess
import sys

import pytest

from tests.processes import ROOT, project_env

pytestmark = [pytest.mark.processes, pytest.mark.redis]

DURATION = 12
KINDS = {"plain", "stream", "upstream_500", "upstream_429", "flaky", "abandoned_stream"}


def test_a_short_soak_leaves_nothing_in_flight_and_memory_bounded(services_pass, redis_server_url):
    command = [
        sys.executable, "bench/soak.py", "--duration", str(DURATION), "--concurrency", "12",
        "--redis", redis_server_url, "--json",
    ]  # fmt: skip
    run = subprocess.run(
        command,
        cwd=ROOT,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])

    assert set(report["statuses"]) == KINDS and report["requests"] > 20 * DURATION
    assert report["unexpected"] == {} and report["transport_errors"] == {}
    assert report["incomplete_streams"] == 0
    assert report["statuses"]["flaky"].keys() == {"200", "500"}
    in_flight = report["in_flight_after"]
    assert in_flight["settled"], in_flight
    assert in_flight["gauge"] == 0 and set(in_flight["leases"].values()) == {0}
    assert in_flight["upstream_open_streams"] == 0
    assert report["upstream"]["streams_aborted"] > 0, "clients did leave mid-stream"
    assert report["workers_restarted"] == []
    for pid, before in report["workers_before"].items():
        after = report["workers_after"][pid]
        assert after["rss_mb"] <= before["rss_mb"] * 1.25 + 5, (pid, before, after)
        assert after["close_wait"] == 0, (pid, after)
