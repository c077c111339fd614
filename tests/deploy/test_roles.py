"""The image's worker and beat roles, configured only by their environment (the Kubernetes
containers' with a real Redis): beat sends the scheduled jobs, the worker runs them, and beat
keeps its schedule file under ROUTER_VAR_DIR."""

import json
import time
import uuid
from pathlib import Path

import pytest

from routerproject.state import RedisState
from tests.processes import running

pytestmark = [pytest.mark.processes, pytest.mark.redis]

HISTORY_KEY = "monitoring:traffic"  # monitoring.history.HISTORY_KEY


def test_beat_schedules_jobs_that_the_worker_runs(image, deployment, redis_server_url, tmp_path):
    roles = {}
    for role in ("worker", "beat"):
        (tmp_path / role).mkdir()  # the image's /var/lib/router (an emptyDir in Kubernetes)
        roles[role] = deployment.env(
            role,
            REDIS_URL=redis_server_url,
            # A queue and a key prefix of this test's own, on the shared Redis.
            CELERY_TASK_DEFAULT_QUEUE=f"test-deploy-{uuid.uuid4().hex}",
            # The traffic sample job every second, instead of every minute.
            MONITORING_HISTORY_INTERVAL_SECONDS="1",
            ROUTER_VAR_DIR=str(tmp_path / role),
        )
    roles["beat"]["CELERY_TASK_DEFAULT_QUEUE"] = roles["worker"]["CELERY_TASK_DEFAULT_QUEUE"]
    state = RedisState(redis_server_url, prefix=roles["worker"]["STATE_KEY_PREFIX"])
    try:
        with (
            running(image.command("worker"), env=roles["worker"]),
            running(image.command("beat"), env=roles["beat"]),
        ):
            deadline = time.monotonic() + 60
            while len(state.list_range(HISTORY_KEY, 10)) < 2:
                assert time.monotonic() < deadline, "no scheduled job ran within 60 s"
                time.sleep(0.2)
        samples = [json.loads(raw) for raw in state.list_range(HISTORY_KEY, 10)]
        assert all({"t", "requests", "errors"} <= sample.keys() for sample in samples)
        assert samples[-1]["t"] > samples[0]["t"]
        # A shelve: its file names depend on the dbm module (celerybeat-schedule, .dat, .db...).
        assert list(Path(roles["beat"]["ROUTER_VAR_DIR"]).glob("celerybeat-schedule*"))
    finally:
        state.clear()
