"""The request history's pages through Django's test client: the list with its filters and pages,
one request's page (a 404 page for an unknown id), bad filters shown on their fields, the usage
page's figures per key and per model. The browser tests draw the same pages in Chromium."""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.services import request_records_write
from tests.monitoring.history_rows import row

pytestmark = pytest.mark.django_db


@pytest.fixture
def records():
    now = datetime.now(UTC)
    request_records_write(
        rows=[
            row(
                request_id=f"page/{i:02}",
                received_at=(now - timedelta(minutes=60 - i)).timestamp(),
                key_id="k1" if i % 2 else "k2",
                key_name="app" if i % 2 else "batch",
                status=200 if i % 5 else 502,
                cost=0.01,
            )
            for i in range(55)
        ]
    )


def request_ids(content: bytes) -> list[str]:
    text = content.decode()
    return [part.split('"', 1)[0] for part in text.split('data-request="')[1:]]


def test_the_list_pages_newest_first_and_keeps_the_filters(reader_browser, records):
    first = reader_browser.get("/dashboard/requests/")
    assert first.status_code == 200
    listed = request_ids(first.content)
    assert len(listed) == 50 and listed[0] == "page/54"
    assert b"Page 1 of 2 (55 requests)" in first.content
    filtered = reader_browser.get("/dashboard/requests/?key=app&status=5xx")
    assert request_ids(filtered.content) == ["page/45", "page/35", "page/25", "page/15", "page/05"]
    second = reader_browser.get("/dashboard/requests/?model=fake-chat&page=2")
    assert request_ids(second.content) == ["page/04", "page/03", "page/02", "page/01", "page/00"]
    assert b"?model=fake-chat&amp;page=1" in second.content


def test_a_bad_filter_is_shown_on_its_field_and_lists_nothing(reader_browser, records):
    page = reader_browser.get("/dashboard/requests/?status=9xx")
    assert page.status_code == 200
    assert b"A status code (404) or a class" in page.content
    assert request_ids(page.content) == []


def test_a_request_has_its_page_and_an_unknown_one_is_a_404(reader_browser, records):
    page = reader_browser.get("/dashboard/requests/one/?id=page/05")
    assert page.status_code == 200
    assert b"<code>page/05</code>" in page.content and b"502" in page.content
    assert reader_browser.get("/dashboard/requests/one/?id=nothing").status_code == 404
    assert reader_browser.get("/dashboard/requests/one/").status_code == 404


def test_the_usage_page_adds_up_per_key_and_per_model(reader_browser, records):
    page = reader_browser.get("/dashboard/usage/?days=1")
    assert page.status_code == 200
    assert page.context["totals"]["requests"] == 55
    assert page.context["totals"]["errors"] == 11
    by_key = {r["name"]: r for r in page.context["data"]["byKey"]}
    assert (by_key["batch"]["requests"], by_key["app"]["requests"]) == (28, 27)
    assert by_key["app"]["cost"] == pytest.approx(0.27)
    (model,) = page.context["data"]["byModel"]
    assert (model["name"], model["requests"]) == ("fake-chat", 55)
    assert b'id="usage-data"' in page.content
    assert reader_browser.get("/dashboard/usage/?days=abc").status_code == 200  # the default
