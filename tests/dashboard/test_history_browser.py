"""The request history's pages in headless Chromium against a real server: the seeded records are
listed, a filter narrows the list, a row opens its request's page, the usage page draws its bars
per key and per model, and a real /v1 request appears once the server's writer has flushed it.
Every test fails on any console error."""

import json
import re
import time

import httpx
import pytest

from tests.dashboard.browser import serve_gateway

# test_browser skips its module, and so this one, without Chromium or Playwright.
from tests.dashboard.test_browser import _watch_console, chromium, expect, sign_in  # noqa: F401
from tests.processes import prepare

pytestmark = [pytest.mark.processes, pytest.mark.pass_independent]

SEED = """
import json, os, time
from monitoring.services import request_records_write
from monitoring.request_history import RequestRow
now = time.time()
request_records_write(rows=[
    RequestRow(**{**row, "received_at": now - row["received_at"]})
    for row in json.loads(os.environ["HISTORY_SEED"])
])
"""
BASE = {
    "service_type": "chat",
    "instance_id": "",
    "tier": "",
    "overhead_ms": 1.25,
    "first_byte_ms": None,
    "usage_estimated": False,
    "retries": 0,
    "fallback_model": "",
    "error": "",
}
ROWS = [
    {
        **BASE,
        "request_id": "seed-chat-1",
        "received_at": 300,  # seconds before the seeding
        "key_id": "k-app",
        "key_name": "app",
        "model": "gpt-4o-mini",
        "served_model": "llama3",
        "instance_id": "llama3@http://vllm-a:8000",
        "status": 200,
        "latency_ms": 120.0,
        "prompt_tokens": 12,
        "completion_tokens": 30,
        "cost": 0.0042,
        "first_byte_ms": 35.5,
    },
    {
        **BASE,
        "request_id": "seed-chat-2",
        "received_at": 200,
        "key_id": "k-app",
        "key_name": "app",
        "model": "llama3",
        "served_model": "llama3",
        "status": 502,
        "latency_ms": 800.0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost": None,
        "error": "upstream_unreachable",
    },
    {
        **BASE,
        "request_id": "seed-batch-1",
        "received_at": 100,
        "key_id": "k-batch",
        "key_name": "batch",
        "model": "qwen2",
        "served_model": "qwen2",
        "status": 200,
        "latency_ms": 60.0,
        "prompt_tokens": 100,
        "completion_tokens": 10,
        "cost": 0.0101,
    },
]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    with serve_gateway(
        tmp_path_factory.mktemp("history-var"), REQUEST_HISTORY_FLUSH_SECONDS="0.2"
    ) as running_gateway:
        prepare({**running_gateway.env, "HISTORY_SEED": json.dumps(ROWS)}, script=SEED)
        yield running_gateway


@pytest.fixture
def page(chromium, gateway):  # noqa: F811
    context = chromium.new_context(base_url=gateway.base, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors = _watch_console(page)
    yield page
    context.close()
    assert errors == [], f"console errors: {errors}"


def test_the_requests_page_lists_the_records_and_a_filter_narrows_them(page, gateway):
    sign_in(page, gateway, "/dashboard/requests/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Requests")
    expect(page.get_by_role("link", name="Requests")).to_have_attribute("aria-current", "page")
    rows = page.locator("tr[data-request^='seed-']")
    expect(rows).to_have_count(3)
    expect(rows.first).to_have_attribute("data-request", "seed-batch-1")  # newest first
    expect(page.locator('tr[data-request="seed-chat-1"]')).to_contain_text("gpt-4o-mini → llama3")
    page.get_by_label("API key (id or name)").fill("app")
    page.get_by_label("Status").fill("5xx")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"key=app&.*status=5xx"))
    expect(page.locator("tr[data-request]")).to_have_count(1)
    expect(page.locator('tr[data-request="seed-chat-2"]')).to_contain_text("upstream_unreachable")
    page.get_by_label("Status").fill("9xx")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("A status code (404) or a class")).to_be_visible()
    expect(page.locator("tr[data-request]")).to_have_count(0)


def test_a_row_opens_the_requests_own_page(page, gateway):
    sign_in(page, gateway, "/dashboard/requests/")
    page.get_by_role("link", name="seed-chat-1").click()
    expect(page).to_have_url(re.compile(r"/dashboard/requests/one/\?id=seed-chat-1$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Request seed-chat-1")
    expect(page.locator('[data-field="keyName"]')).to_contain_text("app")
    expect(page.locator('[data-field="servedModel"]')).to_have_text("llama3")
    expect(page.locator('[data-field="instanceId"]')).to_have_text("llama3@http://vllm-a:8000")
    expect(page.locator('[data-field="firstByteMs"]')).to_have_text("35.500 ms")
    expect(page.locator('[data-field="cost"]')).to_have_text("0.004200")
    page.get_by_role("link", name="All requests").click()
    expect(page).to_have_url(re.compile(r"/dashboard/requests/$"))


def test_the_usage_page_draws_its_charts_per_key_and_per_model(page, gateway):
    sign_in(page, gateway, "/dashboard/usage/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Usage")
    expect(page.locator("#usage")).to_have_attribute("data-drawn", "true")
    requests_by_key = page.locator('[data-usage-chart="byKey"][data-metric="requests"] svg')
    expect(requests_by_key).to_have_attribute("data-bars", re.compile(r"^[2-9]"))
    app_bar = requests_by_key.locator('rect[data-group="k-app"]')
    batch_bar = requests_by_key.locator('rect[data-group="k-batch"]')
    assert float(app_bar.get_attribute("width")) > float(batch_bar.get_attribute("width")) > 0
    for metric in ("errors", "latencyMs", "cost"):
        chart = page.locator(f'[data-usage-chart="byModel"][data-metric="{metric}"] svg.chart-svg')
        expect(chart).to_have_count(1)
    errors_by_model = page.locator('[data-usage-chart="byModel"][data-metric="errors"] svg')
    expect(errors_by_model).to_have_attribute("data-bars", "1")
    expect(page.locator('[data-total="requests"]')).not_to_have_text("0")
    expect(page.locator('[data-usage="byModel"] tr[data-group="qwen2"]')).to_contain_text("0.0101")


def test_a_real_request_is_listed_once_the_server_has_flushed_it(page, gateway):
    refused = httpx.post(
        f"{gateway.base}/v1/chat/completions",
        json={"model": "fake-chat", "messages": []},
        headers={"x-request-id": "browser-live-1"},
    )
    assert refused.status_code == 401  # no API key: refused, and recorded all the same
    deadline = time.monotonic() + 20
    with httpx.Client(base_url=gateway.base, auth=(gateway.username, gateway.password)) as api:
        while api.get("/api/requests/browser-live-1").status_code != 200:
            assert time.monotonic() < deadline, "the writer thread never flushed the request"
            time.sleep(0.1)  # another process's thread: no clock of ours to move
    sign_in(page, gateway, "/dashboard/requests/")
    page.get_by_label("Request id").fill("browser-live-1")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator('tr[data-request="browser-live-1"]')).to_contain_text("401")
