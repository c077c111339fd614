"""Every /api write refuses members it does not declare, with a 400 naming them and nothing changed
(DRF would drop them: an API key "with a budget" was created without one)."""

import pytest

from authjwt.models import ApiKey
from configversions.services import configuration_seed
from routing.models import ServiceInstance
from routing.services import instance_add

pytestmark = pytest.mark.django_db


def refused(response, *names: str) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["success"] is False
    assert sorted(body["data"]["errors"]) == sorted(names)
    assert all(body["data"]["errors"][name] for name in names)
    assert names[0] in body["message"]
    return body


def test_an_api_key_with_a_misspelt_budget_is_not_created(staff_client):
    response = staff_client.post(
        "/api/auth/api-keys", {"name": "k", "maxBuget": 0.000001}, format="json"
    )
    refused(response, "maxBuget")
    assert not ApiKey.objects.exists()


def test_an_instance_update_with_unknown_fields_changes_nothing(staff_client):
    configuration_seed()
    instance_add(actor=None, service_type="chat", name="m", base_url="http://127.0.0.1:9", weight=1)
    for body, unknown in (
        (
            {"instanceId": "m@http://127.0.0.1:9", "instance": {"weight": 5, "wieght": 5}},
            "instance.wieght",
        ),
        ({"instanceId": "m@http://127.0.0.1:9", "instance": {"weight": 5}, "force": True}, "force"),
    ):
        response = staff_client.put("/api/config/instance/update/chat", body, format="json")
        refused(response, unknown)
    assert ServiceInstance.objects.get().weight == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/auth/jwt/login", {"username": "operator", "password": "x"}),
        ("post", "/api/auth/jwt/refresh", {"refreshToken": "x"}),
        ("post", "/api/auth/jwt/logout", {}),
        ("post", "/api/auth/jwt/validate", {"token": "x"}),
        ("post", "/api/auth/jwt/cleanup", {}),
        ("post", "/api/auth/jwt/tokens/revoke-batch", {"tokenIds": ["x"]}),
        ("put", "/api/config/type/services/chat", {"retries": 1}),
        ("post", "/api/config/instance/add/chat", {"name": "n", "baseUrl": "http://127.0.0.1:9"}),
        ("put", "/api/monitoring/config", {}),
        ("put", "/api/monitoring/config/enabled", {"enabled": True}),
        ("post", "/api/monitoring/degradation/level", {"level": "NORMAL"}),
        ("post", "/api/monitoring/degradation/auto-mode", {"enabled": True}),
        ("post", "/api/monitoring/errors/reset", {}),
        ("post", "/api/monitoring/circuit-breaker/force-open", {}),
        ("post", "/api/router/feedback", {"requestId": "r", "success": True}),
        ("post", "/api/router/route", {"query_embedding": [0.0], "candidates": []}),
    ],
)
def test_writes_refuse_an_unknown_member(staff_client, method, path, body):
    configuration_seed()
    response = getattr(staff_client, method)(path, {**body, "notAField": 1}, format="json")
    refused(response, "notAField")


def test_a_service_type_body_with_instances_points_to_the_instance_endpoints(staff_client):
    configuration_seed()
    response = staff_client.put("/api/config/type/services/chat", {"instances": []}, format="json")
    assert (
        "/api/config/instance/" in refused(response, "instances")["data"]["errors"]["instances"][0]
    )
