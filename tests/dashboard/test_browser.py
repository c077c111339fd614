"""The dashboard in headless Chromium against a real server: sign in, add an instance and see it,
a validation error on its field, apply an older version and see the list change back, revoke a
JWT, create an API key (shown once) and revoke it, keyboard navigation, a phone-sized screen.
Every test fails on any console error."""

import os
import re

import httpx
import pytest

from tests.dashboard.browser import (
    CHROMIUM_ARGS,
    SCREENSHOTS,
    chromium_path,
    chromium_problem,
    serve_gateway,
)

_problem = chromium_problem()
if _problem:
    print(f"\nSKIPPED dashboard browser tests: {_problem}")
    pytest.skip(_problem, allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.processes, pytest.mark.pass_independent]

INSTANCE = {
    "name": "llama3:8b",
    "baseUrl": "http://vllm-a:8000",
    "apiKey": "sk-browser-secret-4242",
    "adapter": "vllm",
    "weight": 2,
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    with serve_gateway(tmp_path_factory.mktemp("dashboard-var")) as running_gateway:
        yield running_gateway


@pytest.fixture(scope="module")
def api(gateway):
    with httpx.Client(base_url=gateway.base, auth=(gateway.username, gateway.password)) as client:
        yield client


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def _watch_console(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.fixture
def page(chromium, gateway):
    context = chromium.new_context(base_url=gateway.base, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors = _watch_console(page)
    yield page
    context.close()
    assert errors == [], f"console errors: {errors}"


def sign_in(page: Page, gateway, path: str = "/dashboard/services/") -> None:
    page.goto(path)
    expect(page).to_have_url(re.compile(r"/dashboard/login/\?next="))
    page.get_by_label("Username").fill(gateway.username)
    page.get_by_label("Password").fill(gateway.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))


def ensure_instance(api: httpx.Client, **changes) -> None:
    body = {**INSTANCE, **changes}
    response = api.post("/api/config/instance/add/chat", json=body)
    assert response.status_code in (201, 409), response.text


def delete_instance(api: httpx.Client, name: str, base_url: str) -> None:
    api.delete("/api/config/instance/del/chat", params={"modelName": name, "baseUrl": base_url})


def test_signing_in_shows_the_services(page, gateway):
    sign_in(page, gateway)
    expect(page.get_by_role("heading", level=1)).to_have_text("Services and instances")
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Security")
    expect(page.get_by_role("link", name="Services")).to_have_attribute("aria-current", "page")


def test_an_added_instance_appears_in_the_list_with_its_key_masked(page, gateway, api):
    sign_in(page, gateway)
    page.get_by_role("link", name="Add instance to chat").click()
    page.get_by_label("Name").fill("qwen2:7b")
    page.get_by_label("Base URL").fill("http://ollama:11434")
    page.get_by_label("API key").fill("sk-typed-in-browser-9876")
    page.get_by_label("Adapter").select_option("ollama")
    page.get_by_label("Weight").fill("5")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/dashboard/services/$"))
    expect(page.get_by_role("status")).to_contain_text(
        "Instance qwen2:7b@http://ollama:11434 added"
    )
    row = page.locator('tr[data-instance="qwen2:7b@http://ollama:11434"]')
    expect(row).to_contain_text("ollama")
    expect(row).to_contain_text("unknown")  # health, until the checker probes it
    assert "typed-in-browser" not in page.content()
    stored = api.get("/api/config/instance/type/chat").json()["data"]
    assert any(i["instanceId"] == "qwen2:7b@http://ollama:11434" for i in stored)
    delete_instance(api, "qwen2:7b", "http://ollama:11434")


def test_an_invalid_edit_shows_the_services_message_on_the_field(page, gateway, api):
    ensure_instance(api)
    sign_in(page, gateway)
    page.get_by_role("link", name=f"Edit {INSTANCE['name']}@{INSTANCE['baseUrl']}").click()
    expect(page.get_by_label("API key")).to_have_value("")  # never sent to the browser
    page.get_by_label("Base URL").fill("ftp://files.example")
    page.get_by_role("button", name="Save").click()
    field = page.get_by_label("Base URL")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_base_url_error")).to_have_text(
        "Must be an http:// or https:// URL with a host."
    )
    instances = api.get("/api/config/instance/type/chat").json()["data"]
    assert [i["baseUrl"] for i in instances if i["name"] == INSTANCE["name"]] == [
        INSTANCE["baseUrl"]
    ]


def test_applying_an_older_version_changes_the_list_back(page, gateway, api):
    before = api.get("/api/config/version/current").json()["data"]
    ensure_instance(api, name="phi3:mini", baseUrl="http://phi:8000")
    sign_in(page, gateway, "/dashboard/versions/")
    page.get_by_role("link", name=f"Apply version {before}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Make version {before} the live configuration")
    dialog.get_by_role("button", name=f"Apply version {before}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Version {before} applied")
    expect(page.locator(f'tr[data-version="{before}"]')).to_contain_text("live")
    page.get_by_role("link", name="Services").click()
    expect(page.locator('tr[data-instance="phi3:mini@http://phi:8000"]')).to_have_count(0)
    assert api.get("/api/config/version/current").json()["data"] == before


def test_the_diff_puts_two_versions_side_by_side(page, gateway, api):
    ensure_instance(api, name="diff-model", baseUrl="http://diff:1")
    latest = api.get("/api/config/version/current").json()["data"]
    sign_in(page, gateway, "/dashboard/versions/")
    page.get_by_label("Version A").select_option(str(latest - 1))
    page.get_by_label("Version B").select_option(str(latest))
    page.get_by_role("button", name="Compare").click()
    table = page.locator("table.diff")
    expect(table).to_contain_text("services.chat.instances[diff-model@http://diff:1].baseUrl")
    expect(table).to_contain_text("(absent)")
    delete_instance(api, "diff-model", "http://diff:1")


def test_revoking_a_jwt_refuses_it_afterwards(page, gateway, api):
    login = httpx.post(
        f"{gateway.base}/api/auth/jwt/login",
        json={"username": gateway.username, "password": gateway.password},
    ).json()["data"]
    token_id = login["tokenId"]
    sign_in(page, gateway, "/dashboard/security/")
    page.get_by_label("Status").select_option("ACTIVE")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name=f"Revoke token {token_id}").click()
    page.get_by_label("Reason").fill("laptop lost")
    page.get_by_role("button", name="Revoke token").click()
    expect(page.get_by_role("status")).to_contain_text(f"Token {token_id} revoked")
    page.get_by_label("Status").select_option("REVOKED")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(f'tr[data-token="{token_id}"]')).to_contain_text("laptop lost")
    check = httpx.post(f"{gateway.base}/api/auth/jwt/validate", json={"token": login["token"]})
    assert check.json()["data"]["valid"] is False


def test_an_api_key_is_shown_once_and_revoked(page, gateway):
    sign_in(page, gateway, "/dashboard/security/")
    page.get_by_label("Name:", exact=True).fill("browser-ci")
    page.get_by_label("chat").check()
    page.get_by_role("button", name="Create API key").click()
    raw_key = page.get_by_label("The new API key").input_value()
    assert raw_key.startswith("sk-")
    models = httpx.get(f"{gateway.base}/v1/models", headers={"Authorization": f"Bearer {raw_key}"})
    assert models.status_code == 200
    page.get_by_role("link", name="Done").click()
    assert raw_key not in page.content()
    row = page.locator("tr", has_text="browser-ci")
    expect(row).to_contain_text(raw_key[:8])
    row.get_by_role("link", name="Revoke API key browser-ci").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke API key").click()
    expect(page.locator("tr", has_text="browser-ci")).to_contain_text("revoked")
    refused = httpx.get(f"{gateway.base}/v1/models", headers={"Authorization": f"Bearer {raw_key}"})
    assert refused.status_code == 401


def test_the_keyboard_reaches_and_follows_the_main_navigation(page, gateway):
    sign_in(page, gateway)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Versions":
            break
    expect(page.get_by_role("link", name="Versions")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/dashboard/versions/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Configuration versions")


def _screenshot_dir(tmp_path):
    """docs/screenshots/ when UPDATE_SCREENSHOTS=1 (to refresh the README's pictures), else a
    temporary directory, so that an ordinary test run leaves the checkout clean."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path


def test_screenshots_of_every_page(page, gateway, api, tmp_path):
    ensure_instance(api)
    ensure_instance(
        api,
        name="qwen2:0.5b",
        baseUrl="http://ollama:11434",
        adapter="ollama",
        tier="lightweight",
        apiKey="",
    )
    ensure_instance(api, name="bge-m3", baseUrl="http://tei:8080", apiKey="")
    httpx.post(
        f"{gateway.base}/api/auth/jwt/login",
        json={"username": gateway.username, "password": gateway.password},
    )
    directory = _screenshot_dir(tmp_path)
    page.goto("/dashboard/login/")
    page.screenshot(path=str(directory / "login.png"))
    sign_in(page, gateway)
    latest = api.get("/api/config/version/current").json()["data"]
    shots = {
        "services": "/dashboard/services/",
        "versions": f"/dashboard/versions/?a={max(1, latest - 2)}&b={latest}",
        "router": "/dashboard/router/",
        "monitoring": "/dashboard/monitoring/",
        "security": "/dashboard/security/",
    }
    for name, path in shots.items():
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        page.screenshot(path=str(directory / f"{name}.png"), full_page=True)
        assert (directory / f"{name}.png").stat().st_size > 10_000


def test_changing_the_prefix_on_the_monitoring_page_shows_the_new_value(page, gateway, api):
    sign_in(page, gateway, "/dashboard/monitoring/")
    page.get_by_label("Metric prefix").fill("9bad")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_label("Metric prefix")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_metric_prefix_error")).to_contain_text("Must be a Prometheus name")
    page.get_by_label("Metric prefix").fill("browsergw")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_contain_text("Monitoring settings saved (prefix)")
    expect(page.get_by_label("Metric prefix")).to_have_value("browsergw")
    assert api.get("/api/monitoring/config").json()["data"]["prefix"] == "browsergw"
    assert "browsergw_degradation_level" in httpx.get(f"{gateway.base}/metrics").text
    page.get_by_label("Metric prefix").fill("jairouter")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_label("Metric prefix")).to_have_value("jairouter")


def test_the_overview_draws_its_charts_and_refreshes_them(chromium, tmp_path_factory, tmp_path):
    """A server with its in-process worker and beat sampling every second, so the last hour has
    points within seconds."""
    var_dir = tmp_path_factory.mktemp("overview-var")
    with serve_gateway(
        var_dir, worker=True, MONITORING_HISTORY_INTERVAL_SECONDS="1"
    ) as overview_gateway:
        context = chromium.new_context(
            base_url=overview_gateway.base, viewport={"width": 1280, "height": 860}
        )
        page = context.new_page()
        errors = _watch_console(page)
        sign_in(page, overview_gateway, "/dashboard/overview/")
        expect(page.get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
        rates = page.locator('[data-chart="rates"] svg.chart-svg')
        for _ in range(40):  # until the beat has stored two samples
            expect(rates).to_have_count(1)
            if rates.get_attribute("data-points") != "0":
                break
            page.wait_for_timeout(500)
            page.reload()
        expect(rates).to_be_visible()
        assert int(rates.get_attribute("data-points") or 0) >= 1
        line = page.locator('[data-chart="rates"] path[data-series="requestRate"]')
        assert (line.get_attribute("d") or "").startswith("M")
        expect(page.locator('[data-chart="latency"] svg.chart-svg')).to_have_count(1)
        expect(page.locator('dd[data-figure="requestRate"]')).to_contain_text("/min")
        with page.expect_response(re.compile(r"/dashboard/overview\.json$"), timeout=15_000) as r:
            pass
        assert r.value.status == 200 and "series" in r.value.json()
        expect(page.locator("#overview")).to_have_attribute("data-refreshed", re.compile(r"[1-9]"))
        expect(page.locator(".refresh-note")).to_contain_text("Refreshes every 10 s")
        page.screenshot(path=str(_screenshot_dir(tmp_path) / "overview.png"), full_page=True)
        context.close()
    assert errors == [], f"console errors: {errors}"


def test_on_a_phone_the_navigation_collapses_behind_a_menu_button(chromium, gateway, tmp_path):
    context = chromium.new_context(
        base_url=gateway.base,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    errors = _watch_console(page)
    sign_in(page, gateway)
    nav_link = page.get_by_role("link", name="Versions")
    expect(nav_link).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(nav_link).to_be_visible()
    page.get_by_role("button", name="Menu").click()
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)"
        ".slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().right)"
    )
    assert width <= 390, f"the page must not scroll sideways on a phone: {wide}"
    page.screenshot(path=str(_screenshot_dir(tmp_path) / "services-mobile.png"))
    context.close()
    assert errors == [], f"console errors: {errors}"
