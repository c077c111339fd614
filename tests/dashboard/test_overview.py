"""The overview page and its JSON: the last hour from the traffic history, the routing split, the
instance breakers, for any signed-in user."""

import json

import pytest
from django.test import Client

from monitoring import metrics
from monitoring.history import HISTORY_KEY, LATENCY_BOUNDS
from routerproject.state import get_state
from routing import services
from routing.models import ServiceType
from routing.resilience.shared_breakers import force_breakers

pytestmark = pytest.mark.django_db


def _push(t: float, requests: int, errors: int, fast: int, slow: int) -> None:
    """A sample whose requests took 0.05 s (`fast`) or 2.5 s (`slow`), cumulatively."""
    latency = [(fast if b >= 0.05 else 0) + (slow if b >= 2.5 else 0) for b in LATENCY_BOUNDS]
    sample = {
        "t": t,
        "requests": requests,
        "errors": errors,
        "lightweight": 0,
        "powerful": 0,
        "latency": latency,
    }
    get_state().list_push(HISTORY_KEY, json.dumps(sample))


def test_the_dashboard_home_is_the_overview(reader_browser):
    response = reader_browser.get("/dashboard/", follow=True)
    assert response.redirect_chain[-1][0] == "/dashboard/overview/"
    assert b'aria-current="page">Overview' in response.content


def test_anonymous_visitors_get_neither_the_page_nor_its_json(seeded):
    for path in ("/dashboard/overview/", "/dashboard/overview.json"):
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/dashboard/login/?next=")


def test_the_page_shows_the_last_minute_without_javascript(reader_browser):
    _push(1_700_000_000.0, 1000, 10, 1000, 0)
    _push(1_700_000_060.0, 1120, 16, 1110, 10)
    page = reader_browser.get("/dashboard/overview/").content.decode()
    assert 'data-figure="requestRate" data-format="rate">120.0/min' in page
    assert 'data-figure="errorRate" data-format="rate">6.0/min' in page
    assert 'data-figure="errorRatio" data-format="percent">5%' in page
    # 110 of 120 within (0.025, 0.05]; 10 within (1, 2.5]: p50 interpolated, p99 in the slow bucket.
    assert 'data-figure="p50" data-format="ms">' in page and "No traffic history yet" not in page
    assert 'data-figure="p99" data-format="ms">2' in page
    assert 'id="overview-data"' in page and 'data-chart="rates"' in page


def test_without_history_the_page_says_so(reader_browser):
    page = reader_browser.get("/dashboard/overview/").content.decode()
    assert "No traffic history yet" in page
    assert 'data-figure="requestRate" data-format="rate">—' in page


def test_the_json_has_the_series_routing_and_breakers(reader_browser, staff_user):
    chat = ServiceType.objects.get(name="chat")
    services.instance_add(service_type=chat, name="m1", base_url="http://m1:8000", actor=staff_user)
    force_breakers(["m1@http://m1:8000"], open_=True)
    metrics.ROUTER_LIGHTWEIGHT.inc(3)
    for minute in range(3):
        _push(60.0 * minute, 100 * minute, minute, 100 * minute, 0)
    response = reader_browser.get("/dashboard/overview.json")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    data = response.json()
    assert [p["t"] for p in data["series"]] == [60.0, 120.0]
    assert data["current"]["requestRate"] == 100.0 and data["current"]["errorRate"] == 1.0
    assert data["current"]["p50"] is not None
    assert data["routing"]["lightweight"] >= 3
    assert data["breakers"] == [
        {
            "instanceId": "m1@http://m1:8000",
            "serviceType": "chat",
            "state": "OPEN",
            "forced": True,
            "consecutiveFailures": 0,
            "requestCount": 0,
            "failureRate": 0.0,
        }
    ]
    assert data["breakerSummary"]["state"] == "OPEN"
    assert data["uptimeSeconds"] >= 0 and data["refreshSeconds"] == 10
    page = reader_browser.get("/dashboard/overview/").content.decode()
    assert 'tr data-instance="m1@http://m1:8000"' in page and "breaker-open" in page
