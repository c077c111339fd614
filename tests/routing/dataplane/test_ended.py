"""The listeners of ended /v1 requests: each is called once per request, in order, and one that
fails neither stops the others nor the request."""

from routing.dataplane import ended
from routing.dataplane.exchange import Exchange


def test_listeners_run_in_order_and_a_failing_one_stops_none(monkeypatch, caplog):
    monkeypatch.setattr(ended, "_listeners", [])
    heard: list[tuple[str, int]] = []

    def first(exchange, status, at):
        heard.append(("first", status))

    def broken(exchange, status, at):
        raise RuntimeError("broken listener")

    def last(exchange, status, at):
        heard.append((exchange.request_id, status))

    for listener in (first, broken, last, first):
        ended.on_exchange_end(listener)
    ended.exchange_ended(Exchange("req-1"), 200, 1.0)
    assert heard == [("first", 200), ("req-1", 200)]
    assert "broken listener" in caplog.text


def test_the_metrics_listen_by_default():
    assert ended._metrics in ended._listeners
