"""`/api/requests` and `/api/usage` over recorded rows: newest first, paginated, each filter,
one request by id (404 otherwise), the usage figures added up per day, key and model, bad
parameters a 400 naming them, answers as the schema documents them, readers allowed."""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.services import request_records_write
from tests.apischema import assert_documented, signed_in_client
from tests.monitoring.history_rows import row

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 4, 10, 9, 0, tzinfo=UTC)


def at(hours: float) -> float:
    return (DAY + timedelta(hours=hours)).timestamp()


@pytest.fixture
def records():
    request_records_write(
        rows=[
            row(
                request_id="r-1",
                received_at=at(0),
                key_id="k1",
                key_name="app",
                status=200,
                prompt_tokens=10,
                completion_tokens=20,
                cost=0.5,
                latency_ms=100,
            ),
            row(
                request_id="r-2",
                received_at=at(1),
                key_id="k1",
                key_name="app",
                model="auto",
                served_model="llama",
                instance_id="llama@http://up:2",
                tier="lightweight",
                status=503,
                error="no_instance",
                prompt_tokens=0,
                completion_tokens=0,
                latency_ms=300,
            ),
            row(
                request_id="r-3",
                received_at=at(25),
                key_id="k2",
                key_name="batch",
                status=429,
                prompt_tokens=1,
                completion_tokens=2,
                cost=0.25,
                latency_ms=50,
                first_byte_ms=4.0,
                usage_estimated=True,
            ),
            row(request_id="r-4", received_at=at(26), key_id="k2", key_name="batch", model="x"),
        ]
    )


def ids(client, query: str = "") -> list[str]:
    answer = client.get(f"/api/requests{query}")
    assert answer.status_code == 200, answer.json()
    return [r["requestId"] for r in answer.json()["data"]["content"]]


def test_the_list_is_newest_first_and_paginated(staff_client, records):
    assert ids(staff_client) == ["r-4", "r-3", "r-2", "r-1"]
    page = staff_client.get("/api/requests?size=3&page=1").json()["data"]
    assert [r["requestId"] for r in page["content"]] == ["r-1"]
    assert (page["totalElements"], page["totalPages"], page["number"]) == (4, 2, 1)


def test_a_row_carries_every_field_in_camel_case(staff_client, records):
    (third,) = staff_client.get("/api/requests?requestId=r-3").json()["data"]["content"]
    assert third == {
        "requestId": "r-3",
        "receivedAt": "2026-04-11T10:00:00Z",
        "keyId": "k2",
        "keyName": "batch",
        "serviceType": "chat",
        "model": "fake-chat",
        "servedModel": "fake-chat",
        "instanceId": "fake-chat@http://up:1",
        "tier": "",
        "status": 429,
        "latencyMs": 50.0,
        "overheadMs": 1.5,
        "firstByteMs": 4.0,
        "promptTokens": 1,
        "completionTokens": 2,
        "usageEstimated": True,
        "cost": 0.25,
        "retries": 0,
        "fallbackModel": "",
        "error": "",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?key=k1", ["r-2", "r-1"]),
        ("?key=batch", ["r-4", "r-3"]),
        ("?model=llama", ["r-2"]),  # served
        ("?model=auto", ["r-2"]),  # asked
        ("?model=x", ["r-4"]),
        ("?instance=llama@http://up:2", ["r-2"]),
        ("?status=429", ["r-3"]),
        ("?status=5xx", ["r-2"]),
        ("?status=2xx", ["r-4", "r-1"]),
        ("?status=4xx&key=k2", ["r-3"]),
        ("?from=2026-04-11T00:00:00Z", ["r-4", "r-3"]),
        ("?to=2026-04-10T10:00:00Z", ["r-1"]),  # exclusive
        ("?from=2026-04-10T10:00:00%2B00:00&to=2026-04-11T11:00:00Z", ["r-3", "r-2"]),
        ("?model=&key=", ["r-4", "r-3", "r-2", "r-1"]),  # empty: no filter
        ("?requestId=nope", []),
    ],
)
def test_each_filter_narrows_the_list(staff_client, records, query, expected):
    assert ids(staff_client, query) == expected


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?status=abc", "status"),
        ("?status=6xx", "status"),
        ("?status=99", "status"),
        ("?from=yesterday", "from"),
        ("?to=2026-13-01", "to"),
        ("?from=2026-04-11T00:00:00Z&to=2026-04-10T00:00:00Z", "to"),
        ("?requestId=" + "x" * 129, "requestId"),
        ("?page=-1", "page"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(staff_client, records, query, parameter):
    answer = staff_client.get(f"/api/requests{query}")
    assert answer.status_code == 400
    body = answer.json()
    assert body["success"] is False and body["errorCode"] == "VALIDATION_ERROR"
    assert parameter in body["data"]["errors"]


def test_one_request_by_its_id_or_a_404(staff_client, records):
    answer = staff_client.get("/api/requests/r-2")
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert (data["requestId"], data["servedModel"], data["error"]) == (
        "r-2",
        "llama",
        "no_instance",
    )
    missing = staff_client.get("/api/requests/no-such-request")
    assert missing.status_code == 404
    assert missing.json()["success"] is False and "no-such-request" in missing.json()["message"]


def test_readers_may_read_and_strangers_may_not(reader_client, api_client, records):
    assert ids(reader_client, "?key=app") == ["r-2", "r-1"]
    assert reader_client.get("/api/usage").status_code == 200
    assert api_client.get("/api/requests").status_code == 401
    assert api_client.get("/api/usage").status_code == 401


def usage(client, query: str) -> dict:
    answer = client.get(f"/api/usage{query}")
    assert answer.status_code == 200, answer.json()
    return answer.json()["data"]


RANGE = "from=2026-04-01T00:00:00Z&to=2026-05-01T00:00:00Z"


def test_usage_adds_up_per_day_by_default(staff_client, records):
    data = usage(staff_client, f"?{RANGE}")
    assert (data["from"], data["to"], data["groupBy"]) == (
        "2026-04-01T00:00:00Z",
        "2026-05-01T00:00:00Z",
        "day",
    )
    assert data["totals"] == {
        "requests": 4,
        "errors": 2,
        "promptTokens": 21,
        "completionTokens": 27,
        "cost": 0.75,
        "avgLatencyMs": pytest.approx((100 + 300 + 50 + 12.5) / 4),
    }
    days = {g["group"]: g for g in data["groups"]}
    assert list(days) == ["2026-04-10", "2026-04-11"]
    assert (days["2026-04-10"]["requests"], days["2026-04-10"]["errors"]) == (2, 1)
    assert days["2026-04-10"]["avgLatencyMs"] == pytest.approx(200)
    assert (days["2026-04-11"]["cost"], days["2026-04-11"]["promptTokens"]) == (0.25, 11)


def test_usage_per_key_and_per_model(staff_client, records):
    keys = usage(staff_client, f"?{RANGE}&groupBy=key")["groups"]
    assert [(g["group"], g["name"], g["requests"], g["errors"]) for g in keys] == [
        ("k1", "app", 2, 1),
        ("k2", "batch", 2, 1),
    ]
    assert [g["cost"] for g in keys] == [0.5, 0.25]
    models = usage(staff_client, f"?{RANGE}&groupBy=model")["groups"]
    # The model served, else the one asked for; the busiest first.
    assert [(g["name"], g["requests"]) for g in models] == [("fake-chat", 3), ("llama", 1)]


def test_usage_over_a_range_without_traffic_is_zero(staff_client, records):
    data = usage(staff_client, "?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z&groupBy=key")
    assert data["groups"] == []
    assert data["totals"] == {
        "requests": 0,
        "errors": 0,
        "promptTokens": 0,
        "completionTokens": 0,
        "cost": 0.0,
        "avgLatencyMs": None,
    }


def test_usage_defaults_to_the_last_30_days(staff_client):
    request_records_write(
        rows=[
            row(request_id="now"),
            row(request_id="old", received_at=(datetime.now(UTC) - timedelta(days=31)).timestamp()),
        ]
    )
    data = usage(staff_client, "")
    assert data["totals"]["requests"] == 1 and data["groupBy"] == "day"
    start = datetime.fromisoformat(data["from"])
    end = datetime.fromisoformat(data["to"])
    assert end - start == timedelta(days=30)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?groupBy=week", "groupBy"),
        ("?from=not-a-date", "from"),
        ("?from=2026-04-02T00:00:00Z&to=2026-04-01T00:00:00Z", "to"),
    ],
)
def test_bad_usage_parameters_are_a_400_naming_them(staff_client, query, parameter):
    answer = staff_client.get(f"/api/usage{query}")
    assert answer.status_code == 400
    assert parameter in answer.json()["data"]["errors"]


def test_the_answers_are_the_documented_ones(staff_user, records):
    with signed_in_client(username="operator", password="operator-pass-123") as client:
        for path, template in [
            ("/api/requests?status=5xx", "/api/requests"),
            ("/api/requests?status=bad", "/api/requests"),
            ("/api/requests/r-3", "/api/requests/{requestId}"),
            ("/api/requests/missing", "/api/requests/{requestId}"),
            (f"/api/usage?{RANGE}&groupBy=model", "/api/usage"),
            ("/api/usage?groupBy=week", "/api/usage"),
        ]:
            assert_documented("GET", template, client.get(path))
