"""What happens once a /v1 request has ended (its answer's last byte gone, or refused): every
listener is given the exchange, its status and the perf_counter of its end. The metrics listen;
so may the access log, the request history and spend accounting. Listeners run on the event loop:
each must be quick and must not block (no I/O; hand the work to a thread or a task). One that
raises is logged and the others still run."""

import logging
from collections.abc import Callable

from monitoring import metrics

from .exchange import Exchange

logger = logging.getLogger(__name__)

Listener = Callable[[Exchange, int, float], None]


def _metrics(exchange: Exchange, status: int, ended: float) -> None:
    metrics.observe_exchange(exchange, status, ended=ended)


_listeners: list[Listener] = [_metrics]


def on_exchange_end(listener: Listener) -> None:
    """Call `listener(exchange, status, ended)` for every /v1 request from now on (once)."""
    if listener not in _listeners:
        _listeners.append(listener)


def exchange_ended(exchange: Exchange, status: int, ended: float) -> None:
    if exchange.cost is None:
        exchange.cost = exchange.priced()
    for listener in _listeners:
        try:
            listener(exchange, status, ended)
        except Exception:
            logger.exception("A listener of ended /v1 requests failed: %r", listener)
