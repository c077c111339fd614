"""`/v1/models` and `/v1/models/{id}` through the official SDK: each model's `created` is when its
first enabled instance was added, the same figure `/api/models` reports."""

import datetime

import httpx
import openai
import pytest
from asgiref.sync import sync_to_async

from authjwt.services import api_key_create
from routerproject import generations
from routerproject.asgi import application
from routing.models import ServiceInstance
from routing.services import instance_add

pytestmark = [pytest.mark.anyio, pytest.mark.django_db(transaction=True)]

ADDED = datetime.datetime(2026, 3, 4, 5, 6, 7, tzinfo=datetime.UTC)


@pytest.fixture
def sdk():
    instance_add(service_type="chat", name="dated-model", base_url="http://10.0.0.1", actor=None)
    instance_add(service_type="chat", name="dated-model", base_url="http://10.0.0.2", actor=None)
    first, second = ServiceInstance.objects.filter(name="dated-model").order_by("id")
    ServiceInstance.objects.filter(pk=first.pk).update(created_at=ADDED)
    ServiceInstance.objects.filter(pk=second.pk).update(
        created_at=ADDED + datetime.timedelta(days=9)
    )
    generations.forget()
    key = api_key_create(name="app")[1]
    transport = httpx.ASGITransport(app=application)
    yield openai.AsyncOpenAI(
        base_url="http://gateway/v1",
        api_key=key,
        max_retries=0,
        http_client=httpx.AsyncClient(transport=transport),
    )
    generations.forget()


async def test_created_is_when_the_first_instance_was_added_as_in_the_management_api(
    sdk, staff_client
):
    listed = {model.id: model for model in (await sdk.models.list()).data}
    assert listed["dated-model"].created == int(ADDED.timestamp())
    assert listed["dated-model"].owned_by == "chat"
    fetched = await sdk.models.retrieve("dated-model")
    assert (fetched.id, fetched.created) == ("dated-model", int(ADDED.timestamp()))
    managed = (await sync_to_async(staff_client.get)("/api/models")).json()["data"]["data"]
    assert {m["id"]: m["created"] for m in managed}["dated-model"] == int(ADDED.timestamp())


async def test_an_unknown_model_is_a_404_in_openais_shape(sdk):
    with pytest.raises(openai.NotFoundError) as missing:
        await sdk.models.retrieve("no-such-model")
    assert missing.value.code == "model_not_found"
