"""Configuration versions: written per change, listed, shown, applied, rolled back, deleted, diffed."""

import pytest

from configversions.models import ConfigVersion
from routerproject.state import GENERATION_KEY, get_state
from routing.models import ServiceInstance

pytestmark = pytest.mark.django_db(transaction=True)

INSTANCE = {
    "name": "qwen2:7b",
    "baseUrl": "http://localhost:8000",
    "apiKey": "sk-live-abcdef123456f3a9",
}


def versions(client):
    return client.get("/api/config/version").json()["data"]


def current(client):
    return client.get("/api/config/version/current").json()["data"]


def test_the_baseline_is_version_one(staff_client):
    assert versions(staff_client) == [1]
    assert current(staff_client) == 1
    detail = staff_client.get("/api/config/version/1").json()["data"]
    assert detail["operation"] == "baseline" and detail["current"] is True
    assert set(detail["config"]["services"]) == {
        "chat",
        "embedding",
        "rerank",
        "tts",
        "stt",
        "imgGen",
        "imgEdit",
    }


def test_each_change_writes_one_version_with_who_and_what(staff_client, staff_user):
    generation = int(get_state().get(GENERATION_KEY) or 0)
    staff_client.post("/api/config/instance/add/chat", INSTANCE, format="json")
    assert versions(staff_client) == [1, 2]
    version = ConfigVersion.objects.get(number=2)
    assert version.created_by == staff_user
    assert version.operation == "add instance qwen2:7b@http://localhost:8000 to chat"
    assert version.snapshot["services"]["chat"]["instances"][0]["apiKey"] == INSTANCE["apiKey"]
    assert int(get_state().get(GENERATION_KEY)) == generation + 1


def test_nothing_is_written_when_nothing_changed(staff_client):
    staff_client.put("/api/config/type/services/chat", {"loadBalancer": "random"}, format="json")
    assert versions(staff_client) == [1]


def test_a_failed_change_writes_nothing(staff_client):
    response = staff_client.post(
        "/api/config/instance/add/chat", {**INSTANCE, "weight": -4}, format="json"
    )
    assert response.status_code == 400
    assert versions(staff_client) == [1]


def test_version_details_mask_secrets(staff_client):
    staff_client.post("/api/config/instance/add/chat", INSTANCE, format="json")
    text = staff_client.get("/api/config/version/2").content.decode()
    assert "abcdef123456" not in text and "sk-…f3a9" in text


def test_apply_makes_an_older_version_live_without_a_new_one(staff_client):
    staff_client.post("/api/config/instance/add/chat", INSTANCE, format="json")
    generation = int(get_state().get(GENERATION_KEY) or 0)
    response = staff_client.post("/api/config/version/apply/1")
    assert response.status_code == 200 and response.json()["data"] == {"version": 1}
    assert current(staff_client) == 1 and versions(staff_client) == [1, 2]
    assert not ServiceInstance.objects.exists()
    assert int(get_state().get(GENERATION_KEY)) == generation + 1
    staff_client.post("/api/config/version/apply/2")
    assert ServiceInstance.objects.get().api_key == INSTANCE["apiKey"]


def test_rollback_writes_a_new_version_with_the_old_content(staff_client):
    staff_client.post("/api/config/instance/add/chat", INSTANCE, format="json")
    response = staff_client.post("/api/config/version/rollback/1")
    assert response.json()["data"] == {"version": 3, "rolledBackTo": 1}
    assert versions(staff_client) == [1, 2, 3] and current(staff_client) == 3
    assert (
        ConfigVersion.objects.get(number=3).snapshot == ConfigVersion.objects.get(number=1).snapshot
    )
    assert not ServiceInstance.objects.exists()


def test_the_current_version_cannot_be_deleted(staff_client):
    staff_client.post("/api/config/instance/add/chat", INSTANCE, format="json")
    response = staff_client.delete("/api/config/version/2")
    assert response.status_code == 409 and response.json()["errorCode"] == "CONFLICT"
    assert staff_client.delete("/api/config/version/1").status_code == 200
    assert versions(staff_client) == [2]
    assert staff_client.delete("/api/config/version/1").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/config/version/99"),
        ("post", "/api/config/version/apply/99"),
        ("post", "/api/config/version/rollback/99"),
        ("get", "/api/config/version/1/diff/99"),
    ],
)
def test_unknown_versions_are_404(staff_client, method, path):
    response = getattr(staff_client, method)(path)
    assert response.status_code == 404 and response.json()["success"] is False
    assert current(staff_client) == 1


def test_diff_says_what_was_added_removed_and_changed(staff_client):
    staff_client.post("/api/config/instance/add/chat", INSTANCE, format="json")
    staff_client.put(
        "/api/config/type/services/chat", {"loadBalancer": "round_robin"}, format="json"
    )
    staff_client.delete("/api/config/type/services/tts")
    diff = staff_client.get("/api/config/version/1/diff/4").json()["data"]
    assert diff["from"] == 1 and diff["to"] == 4
    key = "services.chat.instances[qwen2:7b@http://localhost:8000]"
    assert diff["added"][f"{key}.apiKey"] == "sk-…f3a9"
    assert diff["changed"]["services.chat.loadBalancer"] == {"from": "random", "to": "round_robin"}
    assert "services.tts.loadBalancer" in diff["removed"]
    assert staff_client.get("/api/config/version/4/diff/4").json()["data"]["changed"] == {}


def test_reset_restores_the_defaults_as_a_new_version(staff_client):
    staff_client.post("/api/config/instance/add/chat", INSTANCE, format="json")
    staff_client.delete("/api/config/type/services/tts")
    response = staff_client.post("/api/config/type/reset")
    assert response.json()["data"] == {"version": 4}
    assert (
        ConfigVersion.objects.get(number=4).snapshot == ConfigVersion.objects.get(number=1).snapshot
    )
    assert not ServiceInstance.objects.exists()
    assert staff_client.post("/api/config/type/reset").json()["data"] == {"version": None}


def test_readers_cannot_apply_or_delete(reader_client):
    assert reader_client.get("/api/config/version").status_code == 200
    assert reader_client.post("/api/config/version/apply/1").status_code == 403
    assert reader_client.delete("/api/config/version/1").status_code == 403
