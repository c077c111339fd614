"""Service types, instances and models at the seed's paths, shapes and status codes."""

import pytest

from configversions.models import ConfigVersion
from routing.models import ServiceInstance

pytestmark = pytest.mark.django_db

QWEN = {
    "name": "qwen2:7b",
    "baseUrl": "http://localhost:8000",
    "apiKey": "sk-live-abcdef123456f3a9",
    "weight": 1,
    "enabled": True,
    "adapter": "ollama",
}


def add(client, service="chat", **overrides):
    return client.post(f"/api/config/instance/add/{service}", {**QWEN, **overrides}, format="json")


def test_a_fresh_installation_offers_every_service_type(staff_client):
    body = staff_client.get("/api/config/type/services").json()
    assert body["success"] is True
    assert body["data"] == ["chat", "embedding", "rerank", "tts", "stt", "imgGen", "imgEdit"]
    whole = staff_client.get("/api/config/type").json()["data"]
    assert whole["chat"]["loadBalancer"] == "random"
    assert whole["chat"]["circuitBreaker"] == {
        "enabled": True,
        "failureThreshold": 5,
        "recoveryTimeout": 30000,
        "successThreshold": 2,
    }
    assert whole["chat"]["instances"] == []


def test_creating_a_service_type_as_in_the_seed(staff_client):
    staff_client.delete("/api/config/type/services/rerank")
    body = {
        "loadBalancer": "round_robin",
        "rateLimit": {"algorithm": "leaky_bucket", "capacity": 50, "refillRate": 5},
        "circuitBreaker": {"enabled": True, "failureThreshold": 3, "recoveryTimeout": 60000},
    }
    response = staff_client.post("/api/config/type/services/rerank", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()["data"]
    assert data["loadBalancer"] == "round_robin"
    assert data["rateLimit"] == {
        "algorithm": "leaky_bucket",
        "capacity": 50,
        "refillRate": 5.0,
        "scope": "service",
        "windowSeconds": 1.0,
        "warmUpSeconds": 10.0,
    }
    assert data["circuitBreaker"]["failureThreshold"] == 3
    assert (
        staff_client.post("/api/config/type/services/rerank", body, format="json").status_code
        == 409
    )


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/config/type/services/video", {}, "serviceType"),
        ("/api/config/type/services/chat", {"loadBalancer": "fastest"}, "loadBalancer"),
        (
            "/api/config/type/services/chat",
            {"rateLimit": {"algorithm": "quantum", "capacity": 5}},
            "rateLimit.algorithm",
        ),
        (
            "/api/config/type/services/chat",
            {"rateLimit": {"algorithm": "token_bucket", "capacity": -1}},
            "rateLimit.capacity",
        ),
        (
            "/api/config/type/services/chat",
            {"circuitBreaker": {"failureThreshold": 0}},
            "circuitBreaker.failureThreshold",
        ),
        (
            "/api/config/type/services/chat",
            {"circuitBreaker": {"enabled": "yes"}},
            "circuitBreaker.enabled",
        ),
        ("/api/config/type/services/chat", {"fallback": {"models": []}}, "fallback"),
        ("/api/config/type/services/chat", {"retries": -2}, "retries"),
        ("/api/config/type/services/chat", {"instances": []}, "instances"),
    ],
)
def test_bad_service_configuration_is_rejected_field_by_field(staff_client, path, body, field):
    method = staff_client.post if path.endswith("video") else staff_client.put
    versions_before = ConfigVersion.objects.count()
    before = staff_client.get("/api/config/type/services/chat").json()["data"]
    response = method(path, body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["data"]["errors"]
    assert staff_client.get("/api/config/type/services/chat").json()["data"] == before
    assert ConfigVersion.objects.count() == versions_before


def test_updating_and_deleting_a_service_type(staff_client):
    response = staff_client.put(
        "/api/config/type/services/chat",
        {"loadBalancer": "least_connections", "fallback": {"models": ["llama3:8b"]}},
        format="json",
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["loadBalancer"] == "least_connections"
    assert data["fallback"] == {"models": ["llama3:8b"], "response": None}
    assert staff_client.delete("/api/config/type/services/chat").status_code == 200
    assert staff_client.get("/api/config/type/services/chat").status_code == 404
    assert staff_client.delete("/api/config/type/services/chat").status_code == 404


def test_adding_an_instance_as_in_the_seed_masks_its_key(staff_client):
    response = add(staff_client)
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["apiKey"] == "sk-…f3a9"
    assert data["instanceId"] == "qwen2:7b@http://localhost:8000"
    listed = staff_client.get("/api/config/instance/type/chat").json()["data"]
    assert [i["name"] for i in listed] == ["qwen2:7b"]
    assert "abcdef123456" not in staff_client.get("/api/config/type").content.decode()
    assert ServiceInstance.objects.get().api_key == "sk-live-abcdef123456f3a9"


def test_a_duplicate_instance_is_a_conflict(staff_client):
    add(staff_client)
    response = add(staff_client, baseUrl="http://localhost:8000/")
    assert response.status_code == 409
    assert response.json()["errorCode"] == "CONFLICT"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"baseUrl": "ftp://files"}, "baseUrl"),
        ({"baseUrl": "not a url"}, "baseUrl"),
        ({"weight": 0}, "weight"),
        ({"adapter": "tgi"}, "adapter"),
        ({"tier": "medium"}, "tier"),
        ({"headers": {"X-Bad\nName": "v"}}, "headers.X-Bad\nName"),
        ({"path": "v1/chat"}, "path"),
        (
            {"rateLimit": {"algorithm": "sliding_window", "capacity": 10, "windowSeconds": 0}},
            "rateLimit.windowSeconds",
        ),
        ({"name": ""}, "name"),
    ],
)
def test_bad_instances_are_rejected(staff_client, overrides, field):
    response = add(staff_client, **overrides)
    assert response.status_code == 400, response.json()
    assert field in response.json()["data"]["errors"]
    assert not ServiceInstance.objects.exists()


@pytest.mark.parametrize("base_url", ["https://[M", "http://[::1", "http://]::1["])
def test_a_base_url_with_a_broken_ipv6_host_is_400_not_500(staff_client, base_url):
    # Found by the schema fuzz: urlsplit raises ValueError("Invalid IPv6 URL"), which was a 500.
    response = add(staff_client, baseUrl=base_url)
    assert response.status_code == 400, response.content
    assert response.json()["data"]["errors"] == {
        "baseUrl": ["Must be an http:// or https:// URL with a host."]
    }


def test_adding_to_an_unconfigured_service_is_404(staff_client):
    staff_client.delete("/api/config/type/services/tts")
    assert add(staff_client, service="tts").status_code == 404


def test_instance_info_reports_health(staff_client):
    add(staff_client)
    response = staff_client.get(
        "/api/config/instance/info/chat",
        {"modelName": "qwen2:7b", "baseUrl": "http://localhost:8000"},
    )
    data = response.json()["data"]
    assert data["healthStatus"] == "unknown" and data["lastHealthCheck"] is None
    assert data["apiKey"] == "sk-…f3a9"
    missing = staff_client.get("/api/config/instance/info/chat", {"modelName": "qwen2:7b"})
    assert missing.status_code == 400 and "baseUrl" in missing.json()["data"]["errors"]
    unknown = staff_client.get(
        "/api/config/instance/info/chat", {"modelName": "nope", "baseUrl": "http://localhost:8000"}
    )
    assert unknown.status_code == 404


# Found by the schema fuzz on PostgreSQL, which refuses U+0000 in text and jsonb: each was a 500 there.
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/config/type/services/chat%00"),
        ("put", "/api/config/type/services/chat%00"),
        ("delete", "/api/config/type/services/chat%00"),
        ("get", "/api/config/type/chat%00/models"),
        ("get", "/api/config/instance/type/chat%00"),
        ("post", "/api/config/instance/add/chat%00"),
        ("delete", "/api/config/instance/del/chat%00?modelName=m&baseUrl=http://h"),
    ],
)
def test_a_service_type_with_a_nul_byte_is_unknown(staff_client, method, path):
    body = {**QWEN} if "add" in path else {"retries": 1}
    response = getattr(staff_client, method)(path, body, format="json")
    assert response.status_code == 404, response.content
    assert response.json()["errorCode"] == "NOT_FOUND"


def test_instance_info_refuses_a_nul_byte_in_its_query(staff_client):
    add(staff_client)
    response = staff_client.get(
        "/api/config/instance/info/chat", {"modelName": "qwen2:7b", "baseUrl": "http://h\x00"}
    )
    assert response.status_code == 400
    assert response.json()["data"]["errors"] == {"baseUrl": ["Null characters are not allowed."]}


@pytest.mark.parametrize(
    ("fallback", "field"),
    [
        ({"models": ["backup\x00"]}, "fallback.models"),
        ({"response": {"body": {"error": "busy\x00"}}}, "fallback.response.body"),
        ({"response": {"body": {"\x00": 1}}}, "fallback.response.body"),
    ],
)
def test_a_fallback_with_a_nul_byte_is_refused(staff_client, fallback, field):
    response = staff_client.put(
        "/api/config/type/services/chat", {"fallback": fallback}, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["data"]["errors"]
    assert staff_client.get("/api/config/type/services/chat").json()["data"]["fallback"] is None


def test_imported_headers_with_a_nul_byte_are_refused():
    from django.core.exceptions import ValidationError

    from routing.config_schema import clean_headers

    with pytest.raises(ValidationError) as refused:
        clean_headers({"X-Team": "a\x00b"})
    assert refused.value.message_dict == {
        "headers.X-Team": ["Must be a single-line string without control characters."]
    }


def test_updating_an_instance_keeps_a_masked_key(staff_client):
    add(staff_client, headers={"X-Api-Key": "hdr-secret-123456", "X-Team": "a"})
    shown = staff_client.get("/api/config/instance/type/chat").json()["data"][0]
    assert shown["headers"] == {"X-Api-Key": "hd…3456", "X-Team": "a"}
    response = staff_client.put(
        "/api/config/instance/update/chat",
        {"instanceId": shown["instanceId"], "instance": {**shown, "weight": 2}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    stored = ServiceInstance.objects.get()
    assert stored.weight == 2
    assert stored.api_key == "sk-live-abcdef123456f3a9"
    assert stored.headers["X-Api-Key"] == "hdr-secret-123456"


def test_updating_an_instance_as_in_the_seed(staff_client):
    add(staff_client)
    response = staff_client.put(
        "/api/config/instance/update/chat",
        {
            "instanceId": "qwen2:7b@http://localhost:8000",
            "instance": {**QWEN, "apiKey": "sk-new-key-000011112222", "weight": 2},
        },
        format="json",
    )
    assert response.status_code == 200
    assert ServiceInstance.objects.get().api_key == "sk-new-key-000011112222"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"instanceId": "missing@http://h", "instance": {"weight": 3}}, 404),
        ({"instanceId": "no-at-sign", "instance": {"weight": 3}}, 400),
        ({"instance": {"weight": 3}}, 400),
        ({"instanceId": "qwen2:7b@http://localhost:8000", "instance": {"weight": "heavy"}}, 400),
    ],
)
def test_bad_instance_updates(staff_client, body, status):
    add(staff_client)
    assert (
        staff_client.put("/api/config/instance/update/chat", body, format="json").status_code
        == status
    )
    assert ServiceInstance.objects.get().weight == 1


def test_renaming_onto_another_instance_is_a_conflict(staff_client):
    add(staff_client)
    add(staff_client, name="llama3:8b")
    response = staff_client.put(
        "/api/config/instance/update/chat",
        {"instanceId": "llama3:8b@http://localhost:8000", "instance": {"name": "qwen2:7b"}},
        format="json",
    )
    assert response.status_code == 409


def test_deleting_an_instance(staff_client):
    add(staff_client)
    query = "modelName=qwen2:7b&baseUrl=http://localhost:8000"
    assert staff_client.delete(f"/api/config/instance/del/chat?{query}").status_code == 200
    assert staff_client.delete(f"/api/config/instance/del/chat?{query}").status_code == 404
    assert staff_client.delete("/api/config/instance/del/chat").status_code == 400


def test_models_are_listed_per_service_in_the_seed_shape(staff_client):
    add(staff_client)
    add(staff_client, baseUrl="http://localhost:8001")  # same model twice: listed once
    add(staff_client, name="llama3:8b", enabled=False)  # disabled: not offered
    add(staff_client, service="embedding", name="text-embedding-ada-002", adapter="openai")
    body = staff_client.get("/api/models").json()["data"]
    assert body["object"] == "list"
    assert [(m["id"], m["service_type"], m["adapter"]) for m in body["data"]] == [
        ("qwen2:7b", "chat", "OllamaAdapter"),
        ("text-embedding-ada-002", "embedding", "OpenAIAdapter"),
    ]
    assert body["data"][0]["owned_by"] == "model-router" and body["data"][0]["object"] == "model"
    per_type = staff_client.get("/api/config/type/chat/models").json()["data"]
    assert per_type == ["qwen2:7b"]


def test_readers_cannot_change_the_configuration(reader_client, api_client):
    assert reader_client.get("/api/config/type").status_code == 200
    assert add(reader_client).status_code == 403
    assert api_client.get("/api/config/type").status_code == 401
    assert not ServiceInstance.objects.exists()


def test_listing_the_configuration_takes_a_fixed_number_of_queries(
    staff_client, django_assert_max_num_queries
):
    for index in range(15):
        add(staff_client, name=f"model-{index}")
    with django_assert_max_num_queries(4):
        response = staff_client.get("/api/config/type")
    assert len(response.json()["data"]["chat"]["instances"]) == 15
    with django_assert_max_num_queries(3):
        staff_client.get("/api/config/instance/type/chat")
    with django_assert_max_num_queries(3):
        staff_client.get("/api/models")
