"""The Responses API's stored answers: what `GET`/`DELETE /v1/responses/{id}` read and
`previous_response_id` continues. They live in shared state (every worker sees them; Redis when
configured) under the API key that created them, so one key never reads another's, for
GATEWAY_RESPONSES_RETENTION_S; expiry is their cleanup (Redis drops them itself, the in-memory
state sweeps expired keys as it writes). One write per stored answer, no database query."""

import json
from typing import Any

from django.conf import settings

from authjwt.keys import ApiKeyPrincipal
from routerproject.state import get_state

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


async def load(owner: str, response_id: str) -> dict[str, Any] | None:
    """{"response": ..., "conversation": [...]}, or None when unknown, expired or another key's."""
    raw = await get_state().aget(_key(owner, response_id))
    if raw is None:
        return None
    record: dict[str, Any] = json.loads(raw)
    return record


async def delete(owner: str, response_id: str) -> bool:
    return await get_state().adelete(_key(owner, response_id)) > 0
