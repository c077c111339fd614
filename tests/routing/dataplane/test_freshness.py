"""One /v1 request through the ASGI application in-process: all its freshness checks together (the
monitoring view, the API key cache, the live configuration, the neural router) cost at most one
shared-state round trip, and a plain request's candidates' breakers and health bits ride along in
it: one round trip before the request is sent, one after (the breaker's record)."""

import json
from collections.abc import Sequence
from contextvars import ContextVar

import httpx
import pytest
from asgiref.sync import sync_to_async

from authjwt.keys import GENERATION_KEY as API_KEYS_GENERATION
from authjwt.models import ApiKey
from authjwt.services import api_key_create
from monitoring.degradation import LEVEL_KEY
from routerproject import generations
from routerproject.asgi import application
from routerproject.state import GENERATION_KEY, get_state
from routing.neural_runtime import BREAKER_RESET_KEY, RELOAD_KEY
from routing.services import instance_add, service_type_update

pytestmark = [pytest.mark.anyio, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

# Every operation of the shared state a request may make.
OPERATIONS = (
    "get", "aget", "get_many", "aget_many", "set", "aset", "incr", "aincr", "run_script",
    "arun_script", "incr_least", "aincr_least", "release_lease", "arelease_lease",
    "set_contains", "aset_contains", "list_push", "alist_push",
)  # fmt: skip
ON_THE_REQUEST_PATH = {
    GENERATION_KEY,
    LEVEL_KEY,
    API_KEYS_GENERATION,
    RELOAD_KEY,
    BREAKER_RESET_KEY,
}


def _keys(args: tuple) -> set[str]:
    named: set[str] = set()
    for arg in args:
        if isinstance(arg, str):
            named.add(arg)
        elif isinstance(arg, Sequence) and all(isinstance(item, str) for item in arg):
            named.update(arg)
    return named


# Inside a counted call: MemoryState's async operations call its sync ones, one round trip in all.
_counting: ContextVar[bool] = ContextVar("counting", default=False)


@pytest.fixture
def round_trips(monkeypatch):
    """Every call made to the process's shared state: (operation, keys it names)."""
    state, calls = get_state(), []

    def counted(name, real):
        if name.startswith("a"):

            async def call_async(*args, **kwargs):
                if _counting.get():
                    return await real(*args, **kwargs)
                calls.append((name, _keys(args)))
                token = _counting.set(True)
                try:
                    return await real(*args, **kwargs)
                finally:
                    _counting.reset(token)

            return call_async

        def call(*args, **kwargs):
            if not _counting.get():
                calls.append((name, _keys(args)))
            token = _counting.set(True)
            try:
                return real(*args, **kwargs)
            finally:
                _counting.reset(token)

        return call

    for name in OPERATIONS:
        monkeypatch.setattr(state, name, counted(name, getattr(state, name)))
    return calls


@pytest.fixture
def neural_chat(upstream, settings):
    settings.GATEWAY_REQUIRE_API_KEY = True
    settings.NEURAL_EXPLORATION_RATE = 0
    service_type_update(name="chat", actor=None, load_balancer="neural")
    for name, tier in (("small-model", "lightweight"), ("big-model", "powerful")):
        instance_add(service_type="chat", name=name, base_url=upstream, tier=tier, actor=None)
    generations.forget()
    yield api_key_create(name="app")[1]
    generations.forget()


@pytest.fixture
def plain_chat(upstream, settings):
    """A model behind the random balancer, its breaker on."""
    settings.GATEWAY_REQUIRE_API_KEY = True
    breaker = {
        "enabled": True,
        "failureThreshold": 3,
        "recoveryTimeout": 60000,
        "successThreshold": 1,
    }
    service_type_update(name="chat", actor=None, load_balancer="random", circuit_breaker=breaker)
    instance_add(service_type="chat", name="pair", base_url=upstream, actor=None)
    generations.forget()
    yield api_key_create(name="app")[1]
    generations.forget()


async def ask(key: str, model: str = "auto") -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "Say hello."}]}
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        return await client.post(
            "/v1/chat/completions",
            content=json.dumps(body),
            headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
        )


def freshness_reads(calls) -> list[tuple[str, set[str]]]:
    followed = set(generations.followed_keys())
    return [(name, keys) for name, keys in calls if keys & followed]


@pytest.mark.parametrize("interval", [0.0, 3600.0], ids=["every-check-due", "within-interval"])
async def test_one_v1_request_reads_every_generation_in_one_round_trip(
    neural_chat, round_trips, settings, interval
):
    settings.LIVE_CONFIG_CHECK_INTERVAL = interval
    assert (await ask(neural_chat)).status_code == 200  # everything loaded once
    round_trips.clear()

    response = await ask(neural_chat)
    assert response.status_code == 200 and response.headers["x-router-decision"]
    reads = freshness_reads(round_trips)
    assert len(reads) == 1, reads
    (operation, keys) = reads[0]
    assert operation == "aget_many" and keys >= ON_THE_REQUEST_PATH


async def test_a_key_revoked_elsewhere_is_refused_on_the_next_request(neural_chat, settings):
    settings.LIVE_CONFIG_CHECK_INTERVAL = 3600.0
    assert (await ask(neural_chat)).status_code == 200
    # Another worker revoked it: the database changed and the shared generation moved on.
    await ApiKey.objects.aupdate(enabled=False)
    await sync_to_async(get_state().set)(API_KEYS_GENERATION, "from-another-worker")
    assert (await ask(neural_chat)).status_code == 401


@pytest.mark.parametrize("interval", [0.0, 3600.0], ids=["every-check-due", "within-interval"])
async def test_a_plain_request_makes_one_round_trip_before_it_is_sent_and_one_after(
    plain_chat, round_trips, settings, interval
):
    settings.LIVE_CONFIG_CHECK_INTERVAL = interval
    assert (await ask(plain_chat, "pair")).status_code == 200  # everything loaded once
    round_trips.clear()

    response = await ask(plain_chat, "pair")
    assert response.status_code == 200
    instance = response.headers["x-router-instance"]
    assert [name for name, _ in round_trips] == ["aget_many", "arun_script"], round_trips
    (_, before), (_, after) = round_trips
    # The generations and the candidate's breaker and health bit, in one MGET.
    assert before >= {GENERATION_KEY, API_KEYS_GENERATION, LEVEL_KEY}
    assert before >= {f"breaker:{instance}", f"health:{instance}"}
    assert after == {f"breaker:{instance}"}


async def test_riders_are_read_with_the_first_check_and_handed_out_once():
    """What rode along serves the first attempt only: a retry reads the breakers again, and keys
    set to ride along after the check, or outside a request, are not read."""
    await sync_to_async(get_state().set)("breaker:rider-a", "encoded")
    seen = {}

    async def app(scope, receive, send):
        generations.ride_along(("breaker:rider-a", "health:rider-a"))
        follower = generations.follow("gen:test-riders", interval=generations.every_request)
        await follower.aread()
        generations.ride_along(("breaker:late",))
        seen["first"] = generations.ridden(["breaker:rider-a", "health:rider-a"])
        seen["again"] = generations.ridden(["breaker:rider-a"])
        seen["late"] = generations.ridden(["breaker:late"])

    await generations.one_reading_per_request(app)({"type": "http"}, None, None)
    assert seen == {"first": ["encoded", None], "again": None, "late": None}
    generations.ride_along(("breaker:rider-a",))
    assert generations.ridden(["breaker:rider-a"]) is None
