"""The overview's last hour: samples of the fleet's totals, and the rates and percentiles computed
from consecutive samples."""

import json

import pytest

from monitoring import history, metrics
from monitoring.history import (
    HISTORY_KEY,
    HISTORY_SAMPLES,
    LATENCY_BOUNDS,
    traffic_point,
    traffic_samples,
    traffic_series,
)
from monitoring.tasks import record_traffic_sample
from monitoring.traffic import TrafficTally
from routerproject.state import get_state


def _latency(**per_bound: int) -> list[int]:
    """Cumulative bucket counts from counts per upper bound ("0.1" -> 0.1 s)."""
    counts = {float(bound): n for bound, n in per_bound.items()}
    total, cumulative = 0, []
    for bound in LATENCY_BOUNDS:
        total += counts.get(bound, 0)
        cumulative.append(total)
    return cumulative


def _sample(t: float, requests: int, errors: int, latency: list[int], lw=0, pw=0) -> dict:
    return {
        "t": t,
        "requests": requests,
        "errors": errors,
        "lightweight": lw,
        "powerful": pw,
        "latency": latency,
    }


def test_rates_and_percentiles_come_from_the_difference_of_two_samples():
    before = _sample(1000.0, 500, 7, _latency(**{"0.1": 400}), lw=30, pw=10)
    # In the minute: 100 requests, 4 of them 5xx; 90 answered within 0.1 s, 10 within 1 s.
    after = _sample(1060.0, 600, 11, _latency(**{"0.1": 490, "1": 10}), lw=45, pw=20)
    point = traffic_point(before, after)
    assert point["requests"] == 100 and point["requestRate"] == 100.0
    assert point["errors"] == 4 and point["errorRate"] == 4.0
    assert point["errorRatio"] == 0.04
    assert (point["lightweight"], point["powerful"]) == (15, 10)
    # p50: rank 50 of the 90 in (0.05, 0.1] -> 0.05 + 0.05 * 50/90.
    assert point["p50"] == pytest.approx(0.05 + 0.05 * 50 / 90, abs=1e-6)
    # p95: rank 95, the 5th of the 10 in (0.5, 1] -> 0.75; p99: the 9th -> 0.95.
    assert point["p95"] == pytest.approx(0.75)
    assert point["p99"] == pytest.approx(0.95)


def test_a_half_minute_interval_gives_per_minute_rates():
    point = traffic_point(
        _sample(0.0, 10, 0, _latency()), _sample(30.0, 40, 3, _latency(**{"0.01": 30}))
    )
    assert point["requestRate"] == 60.0 and point["errorRate"] == 6.0
    assert point["p99"] is not None and point["p99"] <= 0.01


def test_a_restart_counts_from_zero_and_an_idle_minute_has_no_percentiles():
    before = _sample(0.0, 900, 50, _latency(**{"0.5": 900}))
    restarted = _sample(60.0, 20, 1, _latency(**{"0.05": 20}))
    point = traffic_point(before, restarted)
    assert (point["requests"], point["errors"]) == (20, 1)
    assert point["p50"] is not None and point["p50"] <= 0.05
    idle = traffic_point(restarted, _sample(120.0, 20, 1, restarted["latency"]))
    assert idle["requestRate"] == 0.0 and idle["errorRatio"] == 0.0
    assert idle["p50"] is idle["p95"] is idle["p99"] is None


def test_the_series_has_one_point_per_pair_of_samples():
    samples = [_sample(60.0 * i, 10 * i, 0, _latency(**{"0.1": 10 * i})) for i in range(4)]
    series = traffic_series(samples)
    assert [p["t"] for p in series] == [60.0, 120.0, 180.0]
    assert all(p["requestRate"] == 10.0 for p in series)
    assert traffic_series(samples[:1]) == []


class _Exchange:
    """What observe_exchange reads of a finished /v1 request."""

    service_type, model, instance_id = "chat", "m", "m@http://x"
    retries, fallback_model, rejected_by = 0, "", ""
    prompt_tokens = completion_tokens = 0
    upstream_wait, first_byte = 0.001, None

    def __init__(self, seconds: float) -> None:
        self.started = 100.0
        self.ended = 100.0 + seconds


def _served(status: int, seconds: float) -> None:
    exchange = _Exchange(seconds)
    metrics.exchange_started(exchange.service_type)
    metrics.observe_exchange(exchange, status, ended=exchange.ended)  # type: ignore[arg-type]


def test_the_job_adds_what_the_serving_processes_handed_over():
    first = record_traffic_sample()
    _served(200, 0.02)
    _served(200, 0.02)
    _served(503, 3.0)
    metrics.observe_router_decision(lightweight=True, inference_seconds=None)
    # Counts another process handed over (a worker of another host, say).
    tally = TrafficTally(LATENCY_BOUNDS)
    tally.request(200, 0.3)
    tally.request(502, 0.3)
    tally.route(lightweight=False)
    assert tally.flush(get_state())
    second = record_traffic_sample()
    stored = traffic_samples()
    assert [s["t"] for s in stored] == [first["t"], second["t"]]
    assert second["requests"] - first["requests"] == 5
    assert second["errors"] - first["errors"] == 2
    assert (second["lightweight"], second["powerful"]) == (
        first["lightweight"] + 1,
        first["powerful"] + 1,
    )
    point = traffic_point(first, second)
    # Cumulative buckets: two within 0.025 s, two more within 0.5 s, the last within 5 s.
    assert [point["requests"], point["p50"] <= 0.5, point["p99"] > 2.5] == [5, True, True]
    assert second["latency"][-1] - first["latency"][-1] == 5
    # Nothing left in transit: the next sample adds nothing.
    assert record_traffic_sample()["requests"] == second["requests"]


def test_totals_only_grow_whichever_worker_hands_over():
    start = record_traffic_sample()
    for handed in (3, 1, 2):  # a worker restarting does not make the totals go down
        tally = TrafficTally(LATENCY_BOUNDS)
        for _ in range(handed):
            tally.request(200, 0.01)
        tally.flush(get_state())
    assert record_traffic_sample()["requests"] - start["requests"] == 6


def test_counts_a_failed_flush_could_not_hand_over_are_kept():
    class Down:
        def list_push(self, key, *values):
            raise ConnectionError("shared state is down")

    start = record_traffic_sample()
    tally = TrafficTally(LATENCY_BOUNDS)
    tally.request(200, 0.01)
    assert tally.flush(Down()) is False  # type: ignore[arg-type]
    tally.request(500, 0.01)
    assert tally.flush(get_state())
    after = record_traffic_sample()
    assert (after["requests"] - start["requests"], after["errors"] - start["errors"]) == (2, 1)


def test_the_history_stays_capped_at_an_hour():
    for minute in range(HISTORY_SAMPLES + 9):
        history.traffic_sample_record(now=60.0 * minute)
    stored = traffic_samples(count=1000)
    assert len(stored) == HISTORY_SAMPLES
    assert stored[0]["t"] == 60.0 * 9 and stored[-1]["t"] == 60.0 * (HISTORY_SAMPLES + 8)
    assert len(get_state().list_range(HISTORY_KEY, 1000)) == HISTORY_SAMPLES


def test_an_unreadable_entry_is_skipped():
    get_state().list_push(HISTORY_KEY, "not json", json.dumps(_sample(1.0, 0, 0, _latency())))
    assert [s["t"] for s in traffic_samples()] == [1.0]


def test_the_job_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["monitoring.record_traffic_sample"]
    assert entry["task"] == "monitoring.record_traffic_sample"
    assert entry["schedule"] == 60.0
    # A run that waited in the queue past the next one is dropped, not run late.
    assert entry["options"]["expires"] == 60.0


def test_a_run_while_another_is_under_way_adds_nothing():
    """Two runs at once (a backlog taken by two worker processes) would each add part of the
    handed-over counts to the same totals; the second waits for none and adds nothing."""
    start = record_traffic_sample()
    tally = TrafficTally(LATENCY_BOUNDS)
    tally.request(200, 0.01)
    tally.flush(get_state())
    state = get_state()
    assert state.incr(history._RUN_LOCK_KEY, 1, ttl_seconds=60) == 1  # another run holds it
    try:
        assert record_traffic_sample() is None
        assert [s["t"] for s in traffic_samples()] == [start["t"]]
    finally:
        state.delete(history._RUN_LOCK_KEY)
    after = record_traffic_sample()
    assert after["requests"] - start["requests"] == 1  # the counts waited for the next run


def test_sample_times_strictly_increase_within_one_clock_reading():
    first = history.traffic_sample_record(now=1000.0)
    second = history.traffic_sample_record(now=1000.0)  # the same millisecond
    third = history.traffic_sample_record(now=999.0)  # a clock stepped back
    assert first["t"] < second["t"] < third["t"]
    assert traffic_point(first, second)["seconds"] > 0
