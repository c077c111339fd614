"""The header policy of /v1: which client headers reach an upstream, which upstream headers reach the
client, the request id, and the client's address behind trusted proxies."""

import os
import re

from django.conf import settings
from django.http import HttpRequest

from routerproject.client_address import client_ip, parse_networks

from .client import UpstreamResponse

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Client headers that never reach an upstream: credentials for the gateway, and what the client sets.
_NOT_FORWARDED = HOP_BY_HOP | {
    "host",
    "content-length",
    "authorization",
    "x-api-key",
    "api-key",
    "cookie",
    "forwarded",
    "x-forwarded-for",
    "x-real-ip",
}
# Upstream answer headers the client receives: what describes the body, and what OpenAI's SDKs and
# clients read (limits, retry hints, request ids). Anything else (cookies for the gateway's own
# origin, CORS grants, HSTS, hop-by-hop headers) is the upstream's business, not the client's.
_RELAYED = frozenset(
    {
        "content-type",
        "content-encoding",
        "content-disposition",
        "content-language",
        "cache-control",
        "etag",
        "last-modified",
        "link",
        "vary",
        "retry-after",
        "request-id",  # the gateway stamps its own x-request-id
    }
)
_RELAYED_PREFIXES = ("x-ratelimit-", "openai-")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")

_trusted_proxies = parse_networks(settings.GATEWAY_TRUSTED_PROXIES)


def forwardable(request: HttpRequest) -> dict[str, str]:
    # Headers the client's `Connection` names are for this hop only (RFC 9110 §7.6.1).
    hop_only = {token.strip().lower() for token in request.headers.get("connection", "").split(",")}
    headers = {
        name.lower(): value
        for name, value in request.headers.items()
        if name.lower() not in _NOT_FORWARDED and name.lower() not in hop_only
    }
    # Bodies are relayed undecoded: an upstream must not send gzip to a client that did not ask for it.
    headers.setdefault("accept-encoding", "identity")
    return headers


def _is_relayed(name: str) -> bool:
    return name in _RELAYED or name.startswith(_RELAYED_PREFIXES)


def relayed_headers(response: UpstreamResponse, *, translated: bool) -> dict[str, str]:
    """The allowed headers, a repeated one (Link, Vary) as one comma-joined field (RFC 9110 §5.3:
    the same meaning, and a Django response holds one value per name)."""
    headers: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        if _is_relayed(name):
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if translated:
        # The body is rewritten: its upstream type and encoding no longer describe it.
        headers.pop("content-type", None)
        headers.pop("content-encoding", None)
    return headers


def peer_ip(request: HttpRequest) -> str:
    return client_ip(
        request.META.get("REMOTE_ADDR", ""),
        request.META.get("HTTP_X_FORWARDED_FOR"),
        _trusted_proxies,
    )


def request_id_of(request: HttpRequest) -> str:
    """The client's `X-Request-Id` when it is a plausible id, else a fresh one: it is echoed in a
    header and keys the routing decision in shared state, so it is bounded to 128 characters
    without spaces, commas or anything outside printable ASCII."""
    sent = request.headers.get("x-request-id", "")
    return sent if _REQUEST_ID.fullmatch(sent) else new_request_id()


def new_request_id() -> str:
    """32 random hex digits, as `uuid4().hex` gives, without building a UUID."""
    return os.urandom(16).hex()
