"""The dashboard's pages through Django's test client: access rules, the services behind the forms,
errors on the right fields, secrets never in clear. The browser tests cover the same paths in
Chromium."""

import re

import pytest
from django.test import Client

from authjwt.models import ApiKey, IssuedToken, TokenStatus
from authjwt.services import user_login
from configversions.selectors import current_version_number, version_list
from routing import services
from routing.models import RoutingExemplar, ServiceInstance, ServiceType

pytestmark = pytest.mark.django_db

PAGES = [
    "/dashboard/overview/",
    "/dashboard/services/",
    "/dashboard/versions/",
    "/dashboard/router/",
    "/dashboard/monitoring/",
    "/dashboard/security/",
    "/dashboard/requests/",
    "/dashboard/usage/",
]
INSTANCE = {
    "name": "qwen2:7b",
    "base_url": "http://ollama:11434",
    "api_key": "sk-live-secret-0123456789",
    "weight": "3",
    "enabled": "on",
    "adapter": "ollama",
    "path": "",
    "tier": "",
    "headers": '{"Authorization": "Bearer header-secret-987654321", "X-Org": "research"}',
    "rate_limit": "",
    "circuit_breaker": "",
}


def _add(client: Client, **changes: str):
    return client.post("/dashboard/services/chat/instances/new/", {**INSTANCE, **changes})


def test_it_sends_anonymous_visitors_to_the_login_page(seeded):
    for page in PAGES:
        response = Client().get(page)
        assert response.status_code == 302
        assert response["Location"].startswith("/dashboard/login/?next=")


def test_signing_in_leads_to_the_dashboard(staff_user, seeded):
    client = Client()
    page = client.get("/dashboard/login/")
    assert b'name="csrfmiddlewaretoken"' in page.content
    response = client.post(
        "/dashboard/login/", {"username": "operator", "password": "operator-pass-123"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/dashboard/overview/"
    assert b"<h1>Overview</h1>" in response.content


def test_a_reader_sees_every_page_without_change_controls(reader_browser):
    for page in PAGES:
        response = reader_browser.get(page)
        assert response.status_code == 200, page
        assert b"(read-only)" in response.content
    assert b"Add instance" not in reader_browser.get("/dashboard/services/").content


def test_a_reader_cannot_change_anything(reader_browser):
    assert _add(reader_browser).status_code == 403
    assert reader_browser.post("/dashboard/versions/1/apply/").status_code == 403
    assert (
        reader_browser.post("/dashboard/security/api-keys/new/", {"name": "x"}).status_code == 403
    )
    assert not ServiceInstance.objects.exists() and not ApiKey.objects.exists()


def test_forms_refuse_posts_without_the_csrf_token(staff_user, seeded):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert _add(client).status_code == 403
    assert not ServiceInstance.objects.exists()


def test_adding_an_instance_records_a_version_as_the_api_does(staff_browser, staff_user):
    response = _add(staff_browser)
    assert response.status_code == 302
    instance = ServiceInstance.objects.get()
    assert (instance.name, instance.base_url, instance.weight) == (
        "qwen2:7b",
        "http://ollama:11434",
        3,
    )
    assert instance.api_key == INSTANCE["api_key"]
    latest = version_list().last()
    assert latest.number == current_version_number() == 2
    assert latest.operation == "add instance qwen2:7b@http://ollama:11434 to chat"
    assert latest.created_by == staff_user
    page = staff_browser.get("/dashboard/services/").content.decode()
    assert 'data-instance="qwen2:7b@http://ollama:11434"' in page
    assert "Live configuration: version 2" in page


def test_errors_of_the_services_are_shown_on_their_fields(staff_browser):
    response = _add(
        staff_browser,
        base_url="ftp://nowhere",
        rate_limit='{"algorithm": "token_bucket", "capacity": 0}',
    )
    page = response.content.decode()
    assert response.status_code == 200
    # The model's own message (the API reports it as baseUrl), next to the base URL field.
    assert re.search(r'id="id_base_url_error".*Must be an http:// or https:// URL', page, re.S)
    assert not ServiceInstance.objects.exists()
    response = _add(staff_browser, rate_limit='{"algorithm": "token_bucket", "capacity": 0}')
    assert re.search(
        r'id="id_rate_limit_error".*capacity: Must be at least 1', response.content.decode(), re.S
    )
    response = _add(staff_browser, headers="{not json")
    assert "Not valid JSON" in response.content.decode()
    _add(staff_browser)
    duplicate = _add(staff_browser).content.decode()
    assert "Instance &#x27;qwen2:7b@http://ollama:11434&#x27; already exists" in duplicate
    assert ServiceInstance.objects.count() == 1


def test_secrets_are_never_rendered_in_clear(staff_browser):
    _add(staff_browser)
    edit_url = "/dashboard/services/chat/instances/edit/?id=qwen2:7b@http://ollama:11434"
    for url in ("/dashboard/services/", edit_url, "/dashboard/versions/?a=1&b=2"):
        page = staff_browser.get(url).content.decode()
        assert "live-secret-0123456789" not in page and "header-secret-987654321" not in page, url
        assert "…" in page


def test_an_empty_api_key_on_edit_keeps_the_stored_key_and_masked_headers(staff_browser):
    _add(staff_browser)
    edit_url = "/dashboard/services/chat/instances/edit/?id=qwen2:7b@http://ollama:11434"
    form = staff_browser.get(edit_url).context["form"]
    shown_headers = form["headers"].value()
    response = staff_browser.post(
        edit_url, {**INSTANCE, "api_key": "", "weight": "7", "headers": shown_headers}
    )
    assert response.status_code == 302
    instance = ServiceInstance.objects.get()
    assert instance.weight == 7
    assert instance.api_key == INSTANCE["api_key"]
    assert instance.headers["Authorization"] == "Bearer header-secret-987654321"


def test_enable_disable_and_delete_go_through_the_services(staff_browser):
    _add(staff_browser)
    toggle = "/dashboard/services/chat/instances/toggle/"
    staff_browser.post(toggle, {"id": "qwen2:7b@http://ollama:11434"})
    assert ServiceInstance.objects.get().enabled is False
    staff_browser.post(toggle, {"id": "qwen2:7b@http://ollama:11434"})
    assert ServiceInstance.objects.get().enabled is True
    delete = "/dashboard/services/chat/instances/delete/?id=qwen2:7b@http://ollama:11434"
    confirm = staff_browser.get(delete)
    assert b"Delete instance" in confirm.content and ServiceInstance.objects.exists()
    staff_browser.post(delete)
    assert not ServiceInstance.objects.exists()
    assert version_list().last().operation.startswith("delete instance qwen2:7b")


def test_service_types_are_edited_with_the_api_s_rules(staff_browser):
    url = "/dashboard/services/chat/edit/"
    data = {
        "load_balancer": "round_robin",
        "retries": "2",
        "connect_timeout_ms": "5000",
        "request_timeout_ms": "120000",
        "rate_limit": '{"algorithm": "leaky", "capacity": 5}',
        "circuit_breaker": '{"enabled": true}',
        "fallback": "",
    }
    page = staff_browser.post(url, data).content.decode()
    assert "algorithm: Must be one of token_bucket" in page
    assert ServiceType.objects.get(name="chat").load_balancer == "random"
    staff_browser.post(url, {**data, "rate_limit": '{"algorithm": "token_bucket", "capacity": 5}'})
    chat = ServiceType.objects.get(name="chat")
    assert chat.load_balancer == "round_robin" and chat.rate_limit["refillRate"] == 5
    staff_browser.post("/dashboard/services/chat/delete/")
    assert not ServiceType.objects.filter(name="chat").exists()
    assert b'href="/dashboard/services/new/"' in staff_browser.get("/dashboard/services/").content


def test_a_service_type_without_a_breaker_is_refused_on_that_field(staff_browser):
    page = staff_browser.post(
        "/dashboard/services/chat/edit/",
        {
            "load_balancer": "random",
            "retries": "1",
            "connect_timeout_ms": "5000",
            "request_timeout_ms": "120000",
            "rate_limit": "",
            "circuit_breaker": "",
            "fallback": "",
        },
    ).content.decode()
    assert re.search(r'id="id_circuit_breaker_error".*This field cannot be null', page, re.S)


def test_the_diff_shows_two_versions_side_by_side(staff_browser):
    _add(staff_browser)
    page = staff_browser.get("/dashboard/versions/?a=1&b=2").content.decode()
    assert "services.chat.instances[qwen2:7b@http://ollama:11434].weight" in page
    assert "(absent)" in page
    same = staff_browser.get("/dashboard/versions/?a=2&b=2").content.decode()
    assert "hold the same configuration" in same


def test_apply_and_rollback_ask_first_then_move_the_live_version(staff_browser):
    _add(staff_browser)
    confirm = staff_browser.get("/dashboard/versions/1/apply/")
    assert b"Apply version 1" in confirm.content and current_version_number() == 2
    staff_browser.post("/dashboard/versions/1/apply/")
    assert current_version_number() == 1 and not ServiceInstance.objects.exists()
    staff_browser.post("/dashboard/versions/2/rollback/")
    assert current_version_number() == 3 and ServiceInstance.objects.count() == 1
    assert version_list().last().operation == "rollback to v2"


def test_an_api_key_is_shown_once_then_only_its_prefix(staff_browser):
    response = staff_browser.post(
        "/dashboard/security/api-keys/new/", {"name": "ci", "requests_per_minute": "60"}
    )
    assert response.status_code == 201
    raw = re.search(r'value="(sk-[^"]+)"', response.content.decode()).group(1)
    assert "no-store" in response["Cache-Control"]
    key = ApiKey.objects.get()
    assert raw.startswith(key.prefix) and key.requests_per_minute == 60
    page = staff_browser.get("/dashboard/security/").content.decode()
    assert raw not in page and key.prefix in page
    staff_browser.post(f"/dashboard/security/api-keys/{key.id}/revoke/")
    key.refresh_from_db()
    assert key.revoked_at is not None and not key.enabled


def test_tokens_are_filtered_and_revoked_with_their_session(staff_browser, staff_user):
    pair = user_login(username="operator", password="operator-pass-123")
    active = staff_browser.get("/dashboard/security/?status=ACTIVE").content.decode()
    assert str(pair.access_record.id) in active
    confirm = staff_browser.get(f"/dashboard/security/tokens/{pair.access_record.id}/revoke/")
    assert b'name="reason"' in confirm.content
    staff_browser.post(
        f"/dashboard/security/tokens/{pair.access_record.id}/revoke/", {"reason": "lost laptop"}
    )
    statuses = set(IssuedToken.objects.values_list("status", "revoke_reason"))
    assert statuses == {(TokenStatus.REVOKED, "lost laptop")}
    revoked = staff_browser.get("/dashboard/security/?status=REVOKED").content.decode()
    assert str(pair.refresh_record.id) in revoked
    assert (
        str(pair.access_record.id)
        not in staff_browser.get("/dashboard/security/?status=ACTIVE").content.decode()
    )


def test_router_settings_use_the_versioned_service(staff_browser):
    data = {
        "model_path": "./models/fastgrnn.safetensors",
        "confidence_threshold": "1.5",
        "max_uncertainty": "0.15",
        "enable_circuit_breaker": "on",
        "circuit_breaker_threshold": "5",
        "enable_quantization": "on",
        "target_powerful_share": "0.4",
    }
    page = staff_browser.post("/dashboard/router/settings/", data).content.decode()
    assert "less than or equal to 1.0" in page
    staff_browser.post("/dashboard/router/settings/", {**data, "confidence_threshold": "0.7"})
    assert version_list().last().operation == "update router settings"


def test_a_reload_of_a_missing_model_file_is_refused_on_the_page(
    staff_browser, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the generation bump
        services.router_settings_update(actor=None, model_path="./models/missing.safetensors")
    response = staff_browser.post("/dashboard/router/reload/", follow=True)
    assert "Reload refused" in response.content.decode()


def test_the_router_page_shows_the_exemplars_it_has(staff_browser):
    chat = ServiceType.objects.get(name="chat")
    RoutingExemplar.objects.create(
        service_type=chat,
        prompt_hash="ab" * 32,
        embedding=b"",
        access_count=4,
        lightweight_attempts=2,
        lightweight_successes=2,
    )
    page = staff_browser.get("/dashboard/router/").content.decode()
    assert "1 exemplar" in page and "no per-request decision log" in page
    assert "75%" in page  # (2 + 1) / (2 + 2)


def test_an_api_keys_budget_limits_and_models_are_edited_and_its_usage_shown(staff_browser):
    created = staff_browser.post(
        "/dashboard/security/api-keys/new/",
        {
            "name": "team",
            "max_budget": "2.5",
            "budget_duration": "30d",
            "tokens_per_minute": "1000",
            "allowed_models": "demo-chat, auto",
            "metadata": '{"team": "search"}',
        },
    )
    assert created.status_code == 201
    key = ApiKey.objects.get(name="team")
    assert (key.max_budget, key.budget_duration, key.tokens_per_minute) == (2.5, "30d", 1000)
    assert key.allowed_models == ["auto", "demo-chat"] and key.metadata == {"team": "search"}
    page = staff_browser.get("/dashboard/security/").content.decode()
    assert "of $2.5000 per 30d" in page and "auto, demo-chat" in page
    assert "0 requests, 0 tokens" in page
    edit_url = f"/dashboard/security/api-keys/{key.id}/edit/"
    assert 'value="2.5"' in staff_browser.get(edit_url).content.decode()
    refused = staff_browser.post(edit_url, {"name": "team", "budget_duration": "monthly"})
    assert refused.status_code == 200 and "30d, 12h or 15m" in refused.content.decode()
    key.refresh_from_db()
    assert key.budget_duration == "30d"
    saved = staff_browser.post(
        edit_url, {"name": "team", "max_budget": "9", "budget_duration": "1d", "allowed_models": ""}
    )
    assert saved.status_code == 302
    key.refresh_from_db()
    assert (key.max_budget, key.budget_duration, key.allowed_models) == (9.0, "1d", [])
