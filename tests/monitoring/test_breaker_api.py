"""GET /api/monitoring/circuit-breaker/stats and POST force-open / force-close."""

import pytest

from routing.resilience import shared_breakers
from routing.services import instance_add

pytestmark = pytest.mark.django_db

STATS = "/api/monitoring/circuit-breaker/stats"
OPEN = "/api/monitoring/circuit-breaker/force-open"
CLOSE = "/api/monitoring/circuit-breaker/force-close"


@pytest.fixture
def instances():
    a = instance_add(service_type="chat", name="m", base_url="http://a:1", actor=None)
    b = instance_add(service_type="embedding", name="e", base_url="http://b:1", actor=None)
    return a.instance_id, b.instance_id


def test_stats_summarise_every_instance_in_the_envelope(reader_client, instances):
    a, b = instances
    shared_breakers.force_breakers([a], open_=False)
    response = reader_client.get(STATS)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert data["state"] == "CLOSED" and data["requestCount"] == 0 and data["failureRate"] == 0.0
    entries = {e["instanceId"]: e for e in data["instances"]}
    assert entries[a]["serviceType"] == "chat" and entries[b]["serviceType"] == "embedding"
    assert entries[b]["state"] == "CLOSED"


def test_force_open_one_instance_then_close_all(staff_client, instances):
    a, b = instances
    response = staff_client.post(OPEN, {"instanceId": a}, format="json")
    assert response.status_code == 200
    assert response.json()["data"]["state"] == "OPEN"
    data = staff_client.get(STATS).json()["data"]
    states = {e["instanceId"]: e["state"] for e in data["instances"]}
    assert states == {a: "OPEN", b: "CLOSED"}
    assert data["state"] == "OPEN" and data["openCount"] == 1
    assert staff_client.post(CLOSE).status_code == 200
    data = staff_client.get(STATS).json()["data"]
    assert {e["state"] for e in data["instances"]} == {"CLOSED"}


def test_force_open_without_a_body_opens_every_breaker(staff_client, instances):
    assert staff_client.post(OPEN).status_code == 200
    data = staff_client.get(STATS).json()["data"]
    assert data["openCount"] == 2


def test_an_unknown_instance_is_404_and_readers_cannot_force(
    staff_client, reader_client, api_client, instances
):
    response = staff_client.post(OPEN, {"instanceId": "nope@http://x"}, format="json")
    assert response.status_code == 404 and response.json()["success"] is False
    assert reader_client.post(OPEN).status_code == 403
    assert api_client.get(STATS).status_code == 401


def test_counts_recorded_by_the_data_plane_show_up(reader_client, instances, settings):
    a, _ = instances
    from routing.live_config import build_live_config

    spec = next(i for i in build_live_config(0).services["chat"].instances if i.instance_id == a)
    from asgiref.sync import async_to_sync

    from routerproject.state import get_state

    for success in (True, False, False, True):
        async_to_sync(shared_breakers.arecord)(spec, success, get_state())
    entry = next(
        e for e in reader_client.get(STATS).json()["data"]["instances"] if e["instanceId"] == a
    )
    assert (entry["requestCount"], entry["failureCount"], entry["successCount"]) == (4, 2, 2)
    assert entry["failureRate"] == 0.5
