"""The data plane's snapshot: fully resolved, rebuilt only when the configuration generation moves."""

import asyncio

import pytest
from asgiref.sync import async_to_sync

from configversions.services import version_apply
from routerproject import generations
from routing import live_config
from routing.services import instance_add, service_type_update

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_holder(settings):
    settings.LIVE_CONFIG_CHECK_INTERVAL = 0  # compare generations on every call
    generations.forget()
    yield
    generations.forget()


def test_the_snapshot_resolves_breakers_limits_and_models():
    service_type_update(
        name="chat",
        actor=None,
        rate_limit={"algorithm": "token_bucket", "capacity": 10},
        circuit_breaker={"failureThreshold": 3},
        fallback={"models": ["backup"], "response": {"status": 503, "body": {"error": "busy"}}},
        request_timeout_ms=1500,
    )
    instance_add(service_type="chat", name="m", base_url="http://a:1/", actor=None, weight=2)
    instance_add(
        service_type="chat",
        name="m",
        base_url="http://b:1",
        actor=None,
        circuit_breaker={"failureThreshold": 9},
        rate_limit={"algorithm": "sliding_window", "capacity": 4},
    )
    instance_add(service_type="chat", name="off", base_url="http://c:1", actor=None, enabled=False)
    config = live_config.get_live_config()
    chat = config.service("chat")
    assert config.version == 5
    assert chat.rate_limit.capacity == 10 and chat.rate_limit.refill_rate == 10.0
    assert [i.instance_id for i in chat.candidates("m")] == ["m@http://a:1", "m@http://b:1"]
    first, second = chat.candidates("m")
    assert first.breaker.failure_threshold == 3 and second.breaker.failure_threshold == 9
    assert first.rate_limit is None and second.rate_limit.algorithm == "sliding_window"
    assert first.request_timeout_s == 1.5 and first.weight == 2
    assert chat.candidates("off") == () and len(chat.instances) == 3
    assert chat.fallback.models == ("backup",) and chat.fallback.response_status == 503
    assert ("m", "chat", "openai") in config.models()


def test_cached_reads_make_no_query_and_changes_are_seen(django_assert_num_queries, settings):
    first = async_to_sync(live_config.aget_live_config)()
    assert first.service("chat").candidates("m") == ()
    with django_assert_num_queries(0):
        assert async_to_sync(live_config.aget_live_config)() is first
    instance_add(service_type="chat", name="m", base_url="http://a:1", actor=None)
    second = async_to_sync(live_config.aget_live_config)()
    assert second.generation == first.generation + 1
    assert [i.name for i in second.service("chat").candidates("m")] == ["m"]


def test_between_checks_the_snapshot_is_not_reread(settings):
    settings.LIVE_CONFIG_CHECK_INTERVAL = 3600
    first = async_to_sync(live_config.aget_live_config)()
    instance_add(service_type="chat", name="m", base_url="http://a:1", actor=None)
    assert async_to_sync(live_config.aget_live_config)() is first  # within the interval
    generations.forget()
    assert async_to_sync(live_config.aget_live_config)().service("chat").candidates("m")


def test_applying_a_version_moves_the_generation_too():
    instance_add(service_type="chat", name="m", base_url="http://a:1", actor=None)
    before = live_config.get_live_config()
    version_apply(number=1, actor=None)
    after = live_config.get_live_config()
    assert after.generation > before.generation and after.version == 1
    assert after.service("chat").candidates("m") == ()


def test_concurrent_requests_share_one_rebuild():
    async def burst():
        return await asyncio.gather(*(live_config.aget_live_config() for _ in range(20)))

    configs = async_to_sync(burst)()
    assert len({id(c) for c in configs}) == 1


def test_health_observations_survive_an_apply():
    instance = instance_add(service_type="chat", name="m", base_url="http://a:1", actor=None)
    instance.health_status = "unhealthy"
    instance.save(update_fields=["health_status"])
    service_type_update(name="chat", actor=None, load_balancer="round_robin")
    version_apply(number=2, actor=None)
    instance.refresh_from_db()
    assert instance.health_status == "unhealthy"
