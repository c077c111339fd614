"""Browser security headers: a Content-Security-Policy without 'unsafe-inline' on every dashboard
page (which the templates allow: no inline script, style or event handler), and the headers Django
sends everywhere. The browser tests (test_browser.py) prove the pages still work under the CSP."""

import re

import pytest
from django.test import Client

from monitoring import metrics

pytestmark = pytest.mark.django_db

PAGES = [
    "/dashboard/overview/",
    "/dashboard/services/",
    "/dashboard/services/new/",
    "/dashboard/services/chat/instances/new/",
    "/dashboard/versions/",
    "/dashboard/router/",
    "/dashboard/monitoring/",
    "/dashboard/security/",
    "/dashboard/monitoring/cache/clear/",  # a confirmation page
]
INLINE = [
    # Scripts must come from files; JSON data blocks (json_script) are never executed.
    re.compile(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", re.I),
    re.compile(r"<style\b", re.I),
    re.compile(r"\sstyle\s*=", re.I),
    re.compile(r"\son[a-z]+\s*=", re.I),
    re.compile(r"javascript:", re.I),
]


def assert_browser_headers(response) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


def assert_strict_page(response, page: str) -> None:
    assert response.status_code == 200, page
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert_browser_headers(response)
    html = response.content.decode()
    for pattern in INLINE:
        assert not pattern.search(html), f"{page}: inline code {pattern.pattern}"


def test_every_dashboard_page_has_a_strict_csp_and_nothing_inline(staff_browser):
    for page in PAGES:
        assert_strict_page(staff_browser.get(page), page)


def test_the_login_page_of_an_anonymous_visitor_is_covered_too(seeded):
    assert_strict_page(Client().get("/dashboard/login/"), "/dashboard/login/")


def test_the_api_gets_the_browser_headers_but_keeps_its_own_pages_scripts(staff_client):
    response = staff_client.get("/api/config/type")
    assert_browser_headers(response)
    # Swagger UI and the browsable API are not built for the dashboard's CSP.
    assert "Content-Security-Policy" not in response


def test_the_routing_split_is_drawn_without_an_inline_style(reader_browser):
    metrics.ROUTER_LIGHTWEIGHT.inc(3)
    metrics.ROUTER_POWERFUL.inc(1)
    routing = reader_browser.get("/dashboard/overview.json").json()["routing"]
    share = round(100 * routing["lightweight"] / (routing["lightweight"] + routing["powerful"]))
    page = reader_browser.get("/dashboard/overview/").content.decode()
    bar = re.search(r'<svg class="split"[^>]*>\s*<rect class="split-light"[^>]*>', page)
    assert bar is not None, "the split bar is an SVG"
    assert f'width="{share}"' in bar.group(0)
