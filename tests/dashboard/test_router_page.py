"""The dashboard's router page: the calibrated threshold, the target and actual share of powerful
calls (fleet-wide, from the metrics) and the last decisions with their scores."""

import html
import math

import pytest
from asgiref.sync import async_to_sync
from prometheus_client import REGISTRY

from dashboard.views.router import format_share, format_threshold
from monitoring import metrics
from routerproject import generations
from routing import live_config
from routing.exemplars import flush_outcomes
from routing.neural_runtime import RouterRuntime, runtime
from routing.services import router_settings_update
from routing.snapshot import RouterSpec

# The runtime decides in a worker thread (sync_to_async): it needs committed data.
pytestmark = pytest.mark.django_db(transaction=True)

PAGE = "/dashboard/router/"


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.LIVE_CONFIG_CHECK_INTERVAL = 0
    settings.NEURAL_EXPLORATION_RATE = 0
    generations.forget()
    yield
    generations.forget()


def _page(browser) -> str:
    response = browser.get(PAGE)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _figure(page: str, name: str) -> str:
    start = page.index(f'data-figure="{name}">') + len(f'data-figure="{name}">')
    return page[start : page.index("</dd>", start)]


def _routes() -> tuple[float, float]:
    """The process's router counters (the fleet's, without a multiprocess directory)."""
    light = REGISTRY.get_sample_value("tiny_dancer_lightweight_routes_total") or 0.0
    powerful = REGISTRY.get_sample_value("tiny_dancer_powerful_routes_total") or 0.0
    return light, powerful


def test_the_page_shows_the_calibrated_threshold_and_the_target_share(staff_browser):
    page = _page(staff_browser)
    router = runtime.current(live_config.get_live_config().router)
    assert router.threshold is not None and 0.0 < router.threshold < 1.0
    assert _figure(page, "threshold") == format_threshold(router.threshold)
    assert _figure(page, "threshold") == f"{router.threshold:.4f}"
    assert _figure(page, "target-share") == "40.0%"  # the default target
    assert "Exemplar bank" in page and "Training prompts" in page


def test_a_new_target_share_moves_the_threshold_on_the_page(staff_browser):
    before = runtime.current(live_config.get_live_config().router).threshold
    router_settings_update(actor=None, target_powerful_share=0.25)
    page = _page(staff_browser)
    router = runtime.current(live_config.get_live_config().router)
    assert router.config.target_powerful_share == 0.25
    assert router.threshold is not None and before is not None and router.threshold > before
    assert _figure(page, "threshold") == f"{router.threshold:.4f}"
    assert _figure(page, "target-share") == "25.0%"
    assert 'name="target_powerful_share"' in page and 'value="0.25"' in page

    router_settings_update(actor=None, target_powerful_share=1.0)
    page = _page(staff_browser)
    assert _figure(page, "threshold") == "none (every prompt to the powerful tier)"
    assert _figure(page, "target-share") == "100.0%"


def test_the_actual_share_is_the_powerful_part_of_the_counted_decisions(staff_browser):
    light_before, powerful_before = _routes()
    for _ in range(6):
        metrics.observe_router_decision(lightweight=True, inference_seconds=None)
    for _ in range(2):
        metrics.observe_router_decision(lightweight=False, inference_seconds=None)
    light, powerful = _routes()
    assert (light - light_before, powerful - powerful_before) == (6, 2)
    page = _page(staff_browser)
    expected = format_share(powerful / (light + powerful))
    assert _figure(page, "actual-share") == expected
    if (light_before, powerful_before) == (0, 0):  # run on its own: exactly 2 of 8
        assert expected == "25.0%"
    assert f"{int(powerful)} of {int(light + powerful)} decisions" in page


def test_without_counted_decisions_the_page_says_so(staff_browser, monkeypatch):
    monkeypatch.setattr(
        "dashboard.views.router.router_figures",
        lambda: {"lightweight_routes": 0, "powerful_routes": 0},
    )
    page = _page(staff_browser)
    assert _figure(page, "actual-share") == "no decisions yet"
    assert "No decisions yet" in page  # nor any in the table


def _decide(router_runtime, text, service="chat"):
    return async_to_sync(router_runtime.adecide)(
        RouterSpec(), service_type=service, text=text, metadata={"model": "auto"}
    )


def test_the_last_decisions_show_with_their_scores(staff_browser, reader_browser):
    router_runtime = RouterRuntime()
    decisions = {}
    for index, text in enumerate(
        [
            "hello there",
            "prove that the square root of two is irrational",
            "translate good morning into French",
        ]
    ):
        decision = _decide(router_runtime, text)
        assert decision.reason == "model"
        decisions[f"req-{index}"] = decision
        async_to_sync(router_runtime.arecord_outcome)(
            decision, success=True, request_id=f"req-{index}"
        )
    assert flush_outcomes() == 3

    for browser in (staff_browser, reader_browser):
        page = _page(browser)
        assert "Last decisions" in page and "newest first" in page
        rows = page[page.index('<table class="decisions">') :]
        rows = rows[: rows.index("</table>")]
        # Newest first, each with its request id, service, tier and score (4 decimals).
        positions = [rows.index(f"<code>{request_id}</code>") for request_id in decisions]
        assert positions == sorted(positions, reverse=True)
        for request_id, decision in decisions.items():
            row = rows[rows.index(f"<code>{request_id}</code>") :]
            row = row[: row.index("</tr>")]
            assert f"{round(decision.score, 4):.4f}" in row
            assert f"{round(decision.confidence, 4):.4f}" in row
            assert f">{decision.tier}</span>" in row and "<td>chat</td>" in row
            assert "<td>model</td>" in row


def test_only_the_last_twenty_decisions_are_shown(reader_browser):
    router_runtime = RouterRuntime()
    decision = _decide(router_runtime, "what is two plus two")
    for index in range(25):
        async_to_sync(router_runtime.arecord_outcome)(
            decision, success=True, request_id=f"r{index:02d}"
        )
    flush_outcomes()
    page = _page(reader_browser)
    shown = [f"r{index:02d}" for index in range(25) if f"<code>r{index:02d}</code>" in page]
    assert shown == [f"r{index:02d}" for index in range(5, 25)]
    assert "The 20 most recent decisions" in page


def test_an_exploring_decision_has_no_score_to_show(reader_browser, settings):
    settings.NEURAL_EXPLORATION_RATE = 1.0
    router_runtime = RouterRuntime()
    decision = _decide(router_runtime, "tell me a joke")
    assert decision.reason == "explore" and decision.score == -1.0
    async_to_sync(router_runtime.arecord_outcome)(decision, success=True, request_id="x-1")
    flush_outcomes()
    page = _page(reader_browser)
    row = page[page.index("<code>x-1</code>") :]
    row = row[: row.index("</tr>")]
    assert '<td class="number">—</td>' in row and "<td>explore</td>" in row
    assert "-1.0000" not in page


def test_a_reader_sees_the_figures_but_not_the_controls(reader_browser):
    page = _page(reader_browser)
    assert _figure(page, "threshold") != "—" and _figure(page, "target-share") == "40.0%"
    assert "Actual share of powerful calls" in page
    assert "Reload the model file" not in page and "Save settings" not in page


@pytest.mark.parametrize(
    ("threshold", "shown"),
    [
        (None, "—"),
        (math.nan, "—"),
        (0.123456, "0.1235"),
        (-math.inf, "none (every prompt to the powerful tier)"),
        (math.inf, "none (every prompt to the lightweight tier)"),
    ],
)
def test_threshold_formatting(threshold, shown):
    assert format_threshold(threshold) == shown
