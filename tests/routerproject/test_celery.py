"""The scheduled-job machinery with real workers: in-process (embedded) and on Redis."""

import subprocess
import sys
import uuid

import pytest

from tests.processes import ROOT, celery_worker_command, project_env, running

pytestmark = pytest.mark.processes

# Sends the heartbeat job to a worker, waits for it, then reads what the worker wrote to shared state.
CLIENT = """
import django, sys
django.setup()
from routerproject.celery import start_embedded_worker
from routerproject.state import get_state
from monitoring.tasks import WORKER_HEARTBEAT_KEY, record_worker_heartbeat
if sys.argv[1] == "embedded":
    start_embedded_worker()
# In-process, the worker marks the whole process as a worker; this script is only a client.
result = record_worker_heartbeat.delay().get(timeout=30, disable_sync_subtasks=False)
print("ran", result, "stored", get_state().get(WORKER_HEARTBEAT_KEY))
"""


def _client(mode: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLIENT, mode],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _assert_job_ran(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr[-2000:]
    words = result.stdout.split()
    assert words[0] == "ran" and words[2] == "stored"
    assert float(words[1]) == float(words[3])  # the value the worker stored is the one it returned


def test_embedded_worker_runs_jobs_without_a_broker_server(tmp_path):
    env = project_env(
        DJANGO_SETTINGS_MODULE="routerproject.settings.embedded",
        REDIS_URL=None,
        DATABASE_URL=None,
        ROUTER_VAR_DIR=str(tmp_path),
    )
    _assert_job_ran(_client("embedded", env))


def test_worker_process_runs_jobs_through_redis(redis_server_url, tmp_path):
    env = project_env(
        DJANGO_SETTINGS_MODULE="routerproject.settings.embedded",
        REDIS_URL=redis_server_url,
        DATABASE_URL=None,
        ROUTER_VAR_DIR=str(tmp_path),
        STATE_KEY_PREFIX=f"test-celery:{uuid.uuid4().hex}:",
    )
    queue = f"q-{uuid.uuid4().hex}"
    env["CELERY_TASK_DEFAULT_QUEUE"] = queue
    with running(celery_worker_command(queue), env=env):
        _assert_job_ran(_client("redis", env))
