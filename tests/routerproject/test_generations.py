"""The generation follower: one read of every followed counter serves every cache that is due, one
request reads them at most once, and an unreadable state is one failed call per interval."""

import logging

import pytest
from asgiref.sync import async_to_sync

from routerproject.generations import Generations, every_request, one_reading_per_request
from routerproject.state import MemoryState, StateUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingState(MemoryState):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, ...]] = []
        self.down: BaseException | None = None

    def get_many(self, keys):
        self.reads.append(tuple(keys))
        if self.down is not None:
            raise self.down
        return super().get_many(keys)


@pytest.fixture
def state() -> CountingState:
    return CountingState()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(state, clock) -> Generations:
    return Generations(state=lambda: state, clock=clock)


def test_one_read_of_every_counter_serves_every_follower_within_its_interval(
    registry, state, clock
):
    config = registry.follow("config:generation", interval=lambda: 0.5)
    router = registry.follow("router:reload", "router:reset", interval=lambda: 0.5)
    state.incr("config:generation")
    assert config.due() and router.due()

    assert config.read().number("config:generation") == 1
    assert router.read().number("router:reload") == 0
    assert state.reads == [("config:generation", "router:reload", "router:reset")]
    assert not config.due() and not router.due()

    state.incr("router:reload")
    clock.now += 0.4
    assert not router.due()  # between checks nothing is read
    clock.now += 0.1
    assert router.due() and router.read().number("router:reload") == 1
    assert len(state.reads) == 2


def test_a_follower_sees_a_change_within_its_interval_of_it(registry, state, clock):
    """A reading taken for another cache serves only while it is younger than the interval."""
    fast = registry.follow("k", interval=lambda: 0.1)
    slow = registry.follow("k", interval=lambda: 1.0)
    slow.read()
    clock.now += 0.9
    fast.read()  # a new reading: the first is too old for this follower
    state.incr("k")  # at 100.9
    clock.now += 0.2
    assert slow.due() and slow.read().number("k") == 0  # the reading of 0.2 s ago serves
    assert len(state.reads) == 2 and not slow.due()
    clock.now += 0.8  # a second after the change
    assert slow.due() and slow.read().number("k") == 1
    assert len(state.reads) == 3


def test_a_fresh_read_and_an_every_request_follower_always_read(registry, state):
    keys = registry.follow("auth:keys", interval=every_request)
    config = registry.follow("config:generation", interval=lambda: 3600.0)
    config.read()
    config.read(fresh=True)
    keys.read()
    keys.read()
    assert len(state.reads) == 4


def test_one_request_reads_the_counters_once_whatever_the_intervals(registry, state):
    monitoring = registry.follow("config:generation", "level", interval=lambda: 0.0)
    keys = registry.follow("auth:keys", interval=every_request)

    async def request(scope, receive, send):
        reading = await monitoring.aread()
        state.incr("auth:keys")  # moved after the request began: this request may miss it
        assert await keys.aread() is reading
        assert await keys.aread() is reading

    app = one_reading_per_request(request)
    async_to_sync(app)({"type": "http"}, None, None)
    assert len(state.reads) == 1
    async_to_sync(app)({"type": "http"}, None, None)
    assert len(state.reads) == 2, "the next request reads again"
    async_to_sync(keys.aread)()
    async_to_sync(keys.aread)()
    assert len(state.reads) == 4, "outside a request every look is a read"


def test_a_counter_followed_later_is_read_rather_than_missed(registry, state):
    first = registry.follow("a", interval=lambda: 3600.0)
    first.read()
    state.set("b", "7")
    second = registry.follow("b", interval=lambda: 3600.0)
    assert second.read().number("b") == 7
    assert state.reads == [("a",), ("a", "b")]


def test_an_unreadable_state_is_one_failed_call_per_interval_for_every_follower(
    registry, state, clock, caplog
):
    config = registry.follow("config:generation", interval=lambda: 0.5)
    router = registry.follow("router:reload", interval=lambda: 0.5)
    state.down = ConnectionError("redis is down")
    with caplog.at_level(logging.DEBUG, logger="routerproject.generations"):
        reading = config.read()
        assert not reading.available and isinstance(reading.error, ConnectionError)
        assert router.read() is reading  # the same outage, not a second call
        state.down = StateUnavailable("the gate is closed")
        clock.now += 0.5
        assert not router.read().available
    assert len(state.reads) == 2
    levels = [record.levelno for record in caplog.records]
    assert levels == [logging.WARNING, logging.DEBUG], "the gate's fast refusals log quietly"
    state.down = None
    clock.now += 0.5
    assert config.read().available


def test_forget_makes_every_follower_due_and_drops_its_cache(registry, state):
    dropped = []
    config = registry.follow(
        "config:generation", interval=lambda: 3600.0, on_forget=lambda: dropped.append(1)
    )
    config.read()
    assert not config.due()
    registry.forget()
    assert config.due() and dropped == [1]
    config.read()
    assert len(state.reads) == 2, "the latest reading is forgotten too"
