"""A request's API key is looked up once: the early check of a large body and the pipeline's share
its answer, and the pipeline still checks the key's service type."""

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncRequestFactory

from authjwt import keys
from authjwt.services import api_key_create
from routing.dataplane import admission
from routing.dataplane.errors import GatewayError

pytestmark = [pytest.mark.anyio, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lookups(monkeypatch):
    calls = []

    async def counted(headers, *, service_type):
        calls.append(service_type)
        return await keys.authenticate_client(headers, service_type=service_type)

    monkeypatch.setattr(admission, "authenticate_client", counted)
    return calls


def request_with(key: str | None = None):
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return AsyncRequestFactory().post(
        "/v1/chat/completions", b"{}", content_type="application/json", headers=headers
    )


async def test_the_key_is_looked_up_once_per_request(settings, lookups):
    settings.GATEWAY_REQUIRE_API_KEY = True
    _, raw = await sync_to_async(api_key_create)(name="app")
    request = request_with(raw)
    early = await admission.authenticate(request, None)
    assert await admission.authenticate(request, "chat") == early
    assert early is not None and early.name == "app" and lookups == [None]


async def test_a_key_checked_early_is_still_held_to_its_service_types(settings, lookups):
    settings.GATEWAY_REQUIRE_API_KEY = True
    _, raw = await sync_to_async(api_key_create)(name="emb", allowed_service_types=["embedding"])
    request = request_with(raw)
    await admission.authenticate(request, None)
    with pytest.raises(GatewayError) as refused:
        await admission.authenticate(request, "chat")
    assert refused.value.status == 403 and refused.value.code == "service_type_not_allowed"
    assert await admission.authenticate(request, "embedding") is not None
    assert lookups == [None]


async def test_a_request_without_a_key_is_not_looked_up_again(lookups):
    request = request_with()
    assert await admission.authenticate(request, None) is None
    assert await admission.authenticate(request, "chat") is None
    assert lookups == [None]
