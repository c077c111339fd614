import asyncio
import uuid

from routerproject.state import MemoryState, RedisState
from routerproject.state.memory import SWEEP_EVERY


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_values_round_trip_and_delete(state):
    assert state.get("k") is None
    state.set("k", "v1")
    assert state.get("k") == "v1"
    assert state.delete("k", "absent") == 1
    assert state.get("k") is None


def test_counters_are_atomic_increments(state):
    assert state.incr("c") == 1
    assert state.incr("c", 5) == 6
    assert state.get("c") == "6"


def test_sets_answer_membership(state):
    assert state.set_add("s", "a", "b") == 2
    assert state.set_add("s", "a") == 0
    assert state.set_contains("s", "a") and not state.set_contains("s", "z")
    assert state.set_size("s") == 2
    assert state.set_remove("s", "a", "z") == 1
    assert state.set_size("s") == 1


def test_async_variants_see_the_same_data(state):
    async def scenario():
        await state.aset("k", "async")
        assert await state.aincr("n", 2) == 2
        state.set_add("s", "m")
        return await state.aget("k"), await state.aset_contains("s", "m")

    assert asyncio.run(scenario()) == ("async", True)
    assert state.get("n") == "2"


def test_clear_removes_only_this_prefix(state):
    state.set("a", "1")
    state.set_add("b", "x")
    state.clear()
    assert state.get("a") is None and state.set_size("b") == 0


def test_memory_expiry_follows_the_injected_clock():
    clock = FakeClock()
    state = MemoryState(clock=clock)
    state.set("k", "v", ttl_seconds=10)
    state.incr("window", ttl_seconds=5)
    clock.now += 4.9
    assert state.get("k") == "v"
    assert state.incr("window", ttl_seconds=5) == 2  # the window is not extended
    clock.now += 0.2
    assert state.get("window") is None
    clock.now += 5
    assert state.get("k") is None


def test_memory_drops_expired_keys_nobody_reads_again():
    clock = FakeClock()
    state = MemoryState(clock=clock)
    for index in range(SWEEP_EVERY - 1):
        state.set(f"written-once:{index}", "v", ttl_seconds=1)
    state.set("kept", "v")
    clock.now += 2
    assert len(state._values) == SWEEP_EVERY  # nothing read them: still held
    state.set("fresh", "v", ttl_seconds=60)  # the expiring write that sweeps
    assert set(state._values) == {"kept", "fresh"}
    assert set(state._expiry) == {"fresh"}


def test_async_delete_answers_how_many_went(state):
    state.set("a", "1")
    assert asyncio.run(state.adelete("a", "missing")) == 1
    assert state.get("a") is None


def test_redis_expiry_is_applied(redis_server_url):
    state = RedisState(redis_server_url, prefix=f"test-ttl:{uuid.uuid4().hex}:")
    state.set("k", "v", ttl_seconds=30)
    state.incr("w", ttl_seconds=30)
    ttl_ms = state.client.pttl(state.prefix + "k")
    assert 0 < ttl_ms <= 30_000
    assert 0 < state.client.pttl(state.prefix + "w") <= 30_000
    state.clear()


def test_two_redis_clients_share_one_view(redis_server_url):
    prefix = f"test-shared:{uuid.uuid4().hex}:"
    first, second = (
        RedisState(redis_server_url, prefix=prefix),
        RedisState(redis_server_url, prefix=prefix),
    )
    first.incr("generation")
    assert second.incr("generation") == 2
    first.clear()


def test_unreachable_redis_reports_not_alive():
    assert RedisState("redis://127.0.0.1:1/0", socket_timeout=0.2).ping() is False


def test_lists_drain_in_order_and_only_once(state):
    assert state.list_push("q", "a", "b") == 2
    assert asyncio.run(state.alist_push("q", "c")) == 3
    assert state.list_drain("q", 2) == ["a", "b"]
    assert state.list_drain("q", 10) == ["c"]
    assert state.list_drain("q", 10) == []
    assert state.list_drain("absent", 5) == []


def test_lists_read_their_tail_without_draining_and_trim_to_a_cap(state):
    state.list_push("capped", "a", "b", "c", "d")
    assert state.list_range("capped", 2) == ["c", "d"]
    assert state.list_range("capped", 10) == ["a", "b", "c", "d"]
    assert state.list_range("capped", 0) == []
    state.list_trim("capped", 3)
    assert state.list_range("capped", 10) == ["b", "c", "d"]
    state.list_push("capped", "e")
    state.list_trim("capped", 3)
    assert state.list_drain("capped", 10) == ["c", "d", "e"]
    assert state.list_range("absent", 5) == []
    state.list_trim("absent", 5)
    assert state.list_range("absent", 5) == []


def test_list_remove_takes_out_every_copy_of_a_value(state):
    state.list_push("claims", "x", "y", "x", "z")
    assert state.list_remove("claims", "x") == 2
    assert state.list_range("claims", 10) == ["y", "z"]
    assert state.list_remove("claims", "absent") == 0
    assert state.list_remove("no-such-list", "x") == 0
