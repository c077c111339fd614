"""A Celery worker SIGKILLed in the middle of a job that matters: folding the neural router's queued
outcomes into its exemplars. A new worker gets the job back (late acknowledgement, redelivery after
the visibility timeout) and it completes with every outcome counted exactly once: each queued
prompt is a distinct exemplar whose access count must be exactly 1."""

import os
import signal
import time
import uuid

import psycopg
import pytest

from routerproject.state import RedisState
from routing.exemplars import CLAIMS_KEY, OUTCOMES_KEY
from tests.processes import celery_worker_command, manage, project_env, running
from tests.routing.outcomes import outcome_events

pytestmark = [pytest.mark.processes, pytest.mark.redis, pytest.mark.postgres]

EVENTS = 3000  # three claims of 1000: a few seconds of work on PostgreSQL
VISIBILITY_TIMEOUT = 3
SEND_JOB = """
from routing.models import ServiceType
from routing.services import service_type_create
if not ServiceType.objects.filter(name="chat").exists():
    service_type_create(actor=None, name="chat")
from routing.tasks import flush_routing_outcomes
print("JOB=" + flush_routing_outcomes.delay().id)
"""


def exemplar_counts(database_url: str) -> tuple[int, int, int]:
    """(exemplars, sum of access counts, largest access count) in the gateway's database."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*), coalesce(sum(access_count), 0), coalesce(max(access_count), 0) "
            "FROM routing_routingexemplar"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_job_whose_worker_is_killed_completes_exactly_once_on_a_new_worker(
    tmp_path, gateway_database, private_redis
):
    prefix, queue = f"test-celery-kill:{uuid.uuid4().hex}:", f"q-{uuid.uuid4().hex}"
    env = project_env(
        DJANGO_SETTINGS_MODULE="routerproject.settings.embedded",
        DATABASE_URL=gateway_database,
        REDIS_URL=private_redis.url,
        ROUTER_VAR_DIR=str(tmp_path),
        STATE_KEY_PREFIX=prefix,
        CELERY_TASK_DEFAULT_QUEUE=queue,
        CELERY_VISIBILITY_TIMEOUT_SECONDS=str(VISIBILITY_TIMEOUT),
    )
    state = RedisState(private_redis.url, prefix=prefix)
    state.list_push(OUTCOMES_KEY, *outcome_events(EVENTS))
    sent = manage("shell", "-c", SEND_JOB, env=env)
    assert sent.returncode == 0 and "JOB=" in sent.stdout, sent.stderr[-2000:]

    with running(celery_worker_command(queue), env=env) as first:
        wait_until(lambda: exemplar_counts(gateway_database)[0] > 0, 60, "the job never started")
        started = time.monotonic()
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    done_before_kill = exemplar_counts(gateway_database)[0]
    assert 0 < done_before_kill < EVENTS, "the worker must die in the middle of the job"
    assert private_redis.client().hlen("unacked") == 1, "the job is taken and not acknowledged"

    # The broker hands the job out again once its visibility timeout has passed since delivery
    # (kombu's clock, in the broker's records): a new worker restores it when it starts.
    wait_until(lambda: time.monotonic() > started + VISIBILITY_TIMEOUT + 0.5, 10, "clock")
    with running(celery_worker_command(queue), env=env):
        wait_until(
            lambda: (
                exemplar_counts(gateway_database)[0] == EVENTS
                and state.list_range(CLAIMS_KEY, 10) == []
                and private_redis.client().hlen("unacked") == 0
            ),
            90,
            "the job did not complete on the new worker",
        )

    exemplars, accesses, most = exemplar_counts(gateway_database)
    assert (exemplars, accesses, most) == (EVENTS, EVENTS, 1), "every outcome counted exactly once"
    assert state.list_range(OUTCOMES_KEY, 10) == []
    with psycopg.connect(gateway_database) as conn:
        ledger = conn.execute(
            "SELECT count(*), sum(events) FROM routing_foldedoutcomebatch"
        ).fetchone()
    assert ledger == (EVENTS // 1000, EVENTS)
