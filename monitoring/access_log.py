"""The access log: one line per finished /v1 request on the logger `gateway.access`, at INFO.

`log_exchange` listens to the end of every /v1 request (routing registers it with
`routing.dataplane.ended.on_exchange_end` when GATEWAY_ACCESS_LOG is on). It runs on the event
loop: when the logger is disabled it reads nothing and builds nothing; otherwise it makes one
record, which the `gateway.access` handler formats and hands to a writer thread
(`routerproject.logs`). In JSON (LOG_FORMAT=json) the fields below are members of the line's
object; in text the message carries them as `name=value` pairs. The client's key is named by its
name, never by its value.
"""

import logging
from typing import Any

from routerproject.masking import mask_text

from .ended_exchange import EndedExchange

logger = logging.getLogger("gateway.access")


def log_exchange(exchange: EndedExchange, status: int, ended: float) -> None:
    """The listener of ended /v1 requests: `ended` is the perf_counter of the answer's last byte."""
    if not logger.isEnabledFor(logging.INFO):
        return
    fields = access_fields(exchange, status, ended)
    logger.info(access_line(fields), extra=fields)


def access_fields(exchange: EndedExchange, status: int, ended: float) -> dict[str, Any]:
    latency = max(0.0, ended - exchange.started)
    first_byte = exchange.first_byte
    return {
        "request_id": exchange.request_id,
        "key_name": exchange.key_name,
        "service_type": exchange.service_type,
        # What a client writes freely, masked here: this logger's records skip the scan of every
        # message (`masking.PREMASKED_LOGGERS`), and JSON fields are not scanned.
        "model": mask_text(exchange.model),
        "served_model": exchange.served_model,
        "instance_id": mask_text(exchange.instance_id),  # a base URL may carry a password
        "decision": exchange.decision,
        "status": status,
        "latency_ms": round(latency * 1000, 3),
        "overhead_ms": round(max(0.0, latency - exchange.upstream_wait) * 1000, 3),
        "ttfb_ms": None
        if first_byte is None
        else round(max(0.0, first_byte - exchange.started) * 1000, 3),
        "prompt_tokens": exchange.prompt_tokens,
        "completion_tokens": exchange.completion_tokens,
        "usage_estimated": exchange.usage_estimated,
        "cost": exchange.cost,
        "retries": exchange.retries,
        "fallback_model": exchange.fallback_model,
        "rejected_by": exchange.rejected_by,
        "error": exchange.error,
    }


# In text, the pairs that are always there, then those of requests they concern (a stream's first
# byte, a neural tier, a fallback, a refusal).
_ALWAYS = ("model", "served_model", "instance_id", "status", "latency_ms", "overhead_ms", "retries")
_WHEN_SET = ("ttfb_ms", "decision", "fallback_model", "rejected_by", "error", "cost")


def access_line(fields: dict[str, Any]) -> str:
    """`POST /v1 chat model=gpt-4o served_model=gpt-4o … status=200 latency_ms=41.2 …`."""
    pairs = [f"{name}={_text(fields[name])}" for name in _ALWAYS]
    pairs += [
        f"{name}={_text(fields[name])}" for name in _WHEN_SET if fields[name] not in (None, "")
    ]
    pairs.append(f"usage={fields['prompt_tokens']}/{fields['completion_tokens']}")
    if fields["usage_estimated"]:
        pairs.append("usage_estimated=true")
    pairs.append(f"key={_text(fields['key_name'])}")
    pairs.append(f"request_id={_text(fields['request_id'])}")
    return f"POST /v1 {fields['service_type'] or '-'} " + " ".join(pairs)


def _text(value: Any) -> str:
    """A value as one token of the line: empty as `-`, quoted when it holds a space or a quote."""
    text = str(value)
    if not text:
        return "-"
    if " " in text or '"' in text or "=" in text:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text
