"""Health probes: concurrent, bounded by their timeout, recorded on the rows and in shared state."""

import asyncio
import sys
import time

import pytest

from configversions.models import ConfigVersion
from routerproject.state import get_state
from routing import health_probes
from routing.models import ServiceInstance
from routing.resilience.shared_breakers import health_key
from routing.services import instance_add
from routing.tasks import probe_instances
from tests.processes import free_port, project_env, running

pytestmark = pytest.mark.processes


@pytest.fixture(scope="module")
def upstream():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "routing.fakeupstream", "--port", str(port)]
    with running(command, env=project_env(), ready_url=f"{url}/health"):
        yield url


def test_probe_urls_follow_the_adapter():
    assert health_probes.probe_url("openai", "http://h:1") == "http://h:1/v1/models"
    assert health_probes.probe_url("vllm", "http://h:1/v1/") == "http://h:1/v1/models"
    assert health_probes.probe_url("ollama", "http://h:1") == "http://h:1/api/tags"
    assert health_probes.probe_url("gpustack", "http://h:1") == "http://h:1/v1-openai/models"
    assert health_probes.probe_url("anthropic", "http://h:1") == "http://h:1/v1/models"
    gemini = "https://generativelanguage.googleapis.com/v1beta/openai"
    assert health_probes.probe_url("gemini", gemini) == f"{gemini}/models"
    assert (
        health_probes.probe_url("azure", "https://r.openai.azure.com")
        == "https://r.openai.azure.com/openai/models?api-version=2024-10-21"
    )


def test_probes_send_the_credential_as_the_adapter_does():
    assert health_probes.probe_headers("k", None) == {"authorization": "Bearer k"}
    assert health_probes.probe_headers("k", {"X-Org": "a"}, "azure") == {
        "api-key": "k",
        "x-org": "a",
    }
    anthropic = health_probes.probe_headers("k", None, "anthropic")
    assert anthropic["x-api-key"] == "k" and anthropic["anthropic-version"]
    assert health_probes.probe_headers("", None, "azure") == {}


def test_probes_run_concurrently_and_a_slow_instance_delays_no_other(upstream):
    # The limit leaves a loaded machine ample time for the quick answers; the slow ones never
    # come within it, so five probes run one after another would take five limits.
    limit_s = 3.0
    dead = f"http://127.0.0.1:{free_port()}"
    slow = {"x-fake-latency-ms": "60000"}
    targets = [
        health_probes.ProbeTarget(1, "up", health_probes.probe_url("openai", upstream)),
        health_probes.ProbeTarget(2, "dead", health_probes.probe_url("openai", dead)),
        health_probes.ProbeTarget(
            3, "500", health_probes.probe_url("openai", upstream), {"x-fake-status": "500"}
        ),
        health_probes.ProbeTarget(4, "ollama", health_probes.probe_url("ollama", upstream)),
        *(
            health_probes.ProbeTarget(
                10 + i, f"slow{i}", health_probes.probe_url("openai", upstream), slow
            )
            for i in range(5)
        ),
    ]
    started = time.monotonic()
    results = asyncio.run(health_probes.probe_all(targets, limit_s=limit_s))
    elapsed = time.monotonic() - started
    assert results == {1: True, 2: False, 3: False, 4: True, **{10 + i: False for i in range(5)}}
    assert limit_s <= elapsed < 3 * limit_s, "the slow probes ran one after another"


def test_probes_connect_only_where_the_destination_policy_allows(upstream, settings):
    """The connect-time guard of /v1 covers probes too: a name that now resolves to a refused
    address, or a literal one saved before the policy refused it, gets no connection."""
    port = upstream.rsplit(":", 1)[1]
    targets = [
        health_probes.ProbeTarget(1, "by name", f"http://localhost:{port}/v1/models"),
        health_probes.ProbeTarget(2, "literal", f"{upstream}/v1/models"),
        health_probes.ProbeTarget(3, "nat64 literal", f"http://[64:ff9b::7f00:1]:{port}/v1/models"),
    ]
    assert asyncio.run(health_probes.probe_all(targets[:2], limit_s=2)) == {1: True, 2: True}
    settings.INSTANCE_URL_ALLOW_LOOPBACK = False
    assert asyncio.run(health_probes.probe_all(targets, limit_s=2)) == {
        1: False,
        2: False,
        3: False,
    }


@pytest.mark.django_db
def test_the_task_records_rows_and_health_bits_without_a_configuration_version(upstream, settings):
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 0.5
    dead = f"http://127.0.0.1:{free_port()}"
    up = instance_add(service_type="chat", name="m", base_url=upstream, actor=None)
    down = instance_add(service_type="chat", name="m", base_url=dead, actor=None)
    off = instance_add(
        service_type="chat", name="m", base_url=dead + "/x", enabled=False, actor=None
    )
    versions = ConfigVersion.objects.count()
    assert probe_instances() == {"healthy": 1, "unhealthy": 1}
    assert probe_instances() == {"healthy": 1, "unhealthy": 1}  # idempotent
    rows = {i.pk: i for i in ServiceInstance.objects.all()}
    assert rows[up.pk].health_status == "healthy" and rows[up.pk].last_health_check
    assert rows[down.pk].health_status == "unhealthy"
    assert rows[off.pk].health_status == "unknown" and rows[off.pk].last_health_check is None
    assert get_state().get(health_key(up.instance_id)) == "healthy"
    assert get_state().get(health_key(down.instance_id)) == "unhealthy"
    assert ConfigVersion.objects.count() == versions


def test_the_probe_task_is_scheduled_by_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["routing.probe_instances"]
    assert entry["task"] == "routing.probe_instances"
    assert entry["schedule"] == settings.HEALTH_CHECK_INTERVAL_SECONDS
