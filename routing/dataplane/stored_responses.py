"""The Responses API's stored answers: what `GET`/`DELETE /v1/responses/{id}` read and
`previous_response_id` continues. They live in shared state (every worker sees them; Redis when
configured) under the API key that created them, so one key never reads another's, for
GATEWAY_RESPONSES_RETENTION_S; expiry is their cleanup (Redis drops them itself, the in-memory
state sweeps expired keys as it writes). One write per stored answer, no database query.

A record is either the answer the gateway translated (`response`, and the chat `conversation` a
follow-up continues), or, for an answer passed through, the `instance` whose upstream keeps it:
reads and deletes of those are forwarded to it (`forward`)."""

import json
from typing import Any, cast
from urllib.parse import quote

from django.conf import settings
from django.http import HttpResponse

from authjwt.keys import ApiKeyPrincipal
from routerproject.state import get_state
from routing.live_config import aget_live_config
from routing.service_types import ServiceKind

from . import errors
from .adapters import adapter_for
from .adapters.base import upstream_headers
from .adapters.openai import OpenAICompatible
from .client import UpstreamError, UpstreamTimeout, UpstreamTooLarge, send_upstream
from .endpoints import ENDPOINTS

_ANONYMOUS = "-"  # the owner when GATEWAY_REQUIRE_API_KEY is off and no key was sent


def owner_of(principal: ApiKeyPrincipal | None) -> str:
    return principal.key_id if principal is not None else _ANONYMOUS


def _key(owner: str, response_id: str) -> str:
    return f"responses:{owner}:{response_id}"


async def save(owner: str, response: dict[str, Any], conversation: list[dict[str, Any]]) -> None:
    """Keep `response` and the chat messages a follow-up continues from."""
    retention = settings.GATEWAY_RESPONSES_RETENTION_S
    if retention <= 0:
        return
    record = json.dumps({"response": response, "conversation": conversation})
    await get_state().aset(_key(owner, response["id"]), record, ttl_seconds=retention)


async def save_link(owner: str, response_id: str, instance_id: str) -> None:
    """Remember that `instance_id`'s upstream keeps `response_id`."""
    retention = settings.GATEWAY_RESPONSES_RETENTION_S
    if retention > 0:
        record = json.dumps({"instance": instance_id})
        await get_state().aset(_key(owner, response_id), record, ttl_seconds=retention)


async def load(owner: str, response_id: str) -> dict[str, Any] | None:
    """{"response": ..., "conversation": [...]} or {"instance": ...}; None when unknown, expired
    or another key's."""
    raw = await get_state().aget(_key(owner, response_id))
    if raw is None:
        return None
    record: dict[str, Any] = json.loads(raw)
    return record


async def delete(owner: str, response_id: str) -> bool:
    return await get_state().adelete(_key(owner, response_id)) > 0


async def forward(method: str, instance_id: str, response_id: str) -> HttpResponse:
    """`GET` or `DELETE` of a response an instance's upstream keeps, answered as it answers."""
    config = await aget_live_config()
    service = config.service(ServiceKind.CHAT)
    found = [i for i in (service.instances if service else ()) if i.instance_id == instance_id]
    if not found:
        raise not_found(response_id)
    instance = found[0]
    adapter = cast(OpenAICompatible, adapter_for(instance.adapter))
    url = f"{adapter.url(instance, ENDPOINTS['responses'])}/{quote(response_id, safe='')}"
    headers = upstream_headers(
        instance,
        {"accept-encoding": "identity"},
        auth_header=adapter.auth_header,
        auth_scheme=adapter.auth_scheme,
    )
    try:
        answer = await send_upstream(
            method,
            url,
            headers=headers,
            content=b"",
            connect_timeout_s=instance.connect_timeout_s,
            request_timeout_s=instance.request_timeout_s,
        )
        try:
            body = await answer.aread(settings.GATEWAY_BUFFER_LIMIT_BYTES)
        finally:
            await answer.aclose()
    except UpstreamTimeout:
        raise errors.upstream_timeout(instance_id) from None
    except UpstreamTooLarge:
        raise errors.upstream_too_large(instance_id, settings.GATEWAY_BUFFER_LIMIT_BYTES) from None
    except UpstreamError:
        raise errors.upstream_unreachable(instance_id) from None
    content_type = answer.headers.get("content-type") or "application/json"
    return HttpResponse(body, status=answer.status_code, content_type=content_type)


def not_found(response_id: str) -> errors.GatewayError:
    return errors.GatewayError(
        404, f"Response with id '{response_id}' not found.", code="not_found"
    )
