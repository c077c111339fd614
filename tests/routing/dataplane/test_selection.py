"""Selection over shared state, on memory and on Redis: eligibility, shared cursors, in-flight counts."""

from collections import Counter

import pytest

from routerproject.state import MemoryState
from routerproject.state.base import LEASE_OWNER_TTL_SECONDS, lease_owner_key
from routing.dataplane.selection import NoInstanceAvailable, choose, in_flight_key
from tests.routing.dataplane.specs import instance, service

pytestmark = pytest.mark.anyio


async def test_disabled_and_zero_weight_instances_are_never_chosen(state):
    spec = service(
        "chat",
        [
            instance(base_url="http://a", enabled=False),
            instance(base_url="http://b"),
            instance(base_url="http://c", weight=0),
        ],
    )
    candidates = tuple(spec.instances)  # as if the snapshot still listed them
    for _ in range(50):
        lease = await choose(spec, "fake-chat", candidates, client_ip="1.1.1.1", state=state)
        assert lease.instance.base_url == "http://b"


async def test_no_eligible_instance_raises(state):
    spec = service("chat", [instance(enabled=False)])
    with pytest.raises(NoInstanceAvailable):
        await choose(spec, "fake-chat", spec.instances, client_ip="1.1.1.1", state=state)


async def test_round_robin_cursor_is_shared_through_state(state):
    spec = service(
        "chat",
        [instance(base_url="http://a", weight=2), instance(base_url="http://b")],
        load_balancer="round_robin",
    )
    candidates = spec.candidates("fake-chat")
    picks = [
        (await choose(spec, "fake-chat", candidates, client_ip="x", state=state)).instance.base_url
        for _ in range(30)
    ]
    assert Counter(picks) == {"http://a": 20, "http://b": 10}
    assert picks[:3] == ["http://a", "http://b", "http://a"]


async def test_least_connections_counts_in_flight_and_releases_exactly_once(state):
    spec = service(
        "chat",
        [instance(base_url="http://a"), instance(base_url="http://b", weight=3)],
        load_balancer="least_connections",
    )
    candidates = spec.candidates("fake-chat")
    leases = [
        await choose(spec, "fake-chat", candidates, client_ip="x", state=state) for _ in range(8)
    ]
    held = Counter(lease.instance.base_url for lease in leases)
    assert held == {"http://a": 2, "http://b": 6}
    for lease in leases:
        await lease.arelease()
        await lease.arelease()
        lease.release()
    for spec_instance in candidates:
        assert state.lease_count(in_flight_key(spec_instance)) == 0


def lease(state, keys, weights, times=1, **kwargs) -> list[int]:
    return [state.incr_least(keys, weights, **kwargs) for _ in range(times)]


async def test_incr_least_is_one_atomic_pick_and_lease(state):
    keys = ["k1", "k2", "k3"]
    assert lease(state, ["k1"], [1], times=5) == [0] * 5
    assert await state.aincr_least(keys, [1, 1, 1], start=0, ttl_seconds=60) == 1
    assert await state.aincr_least(keys, [1, 1, 1], start=2) == 2
    assert state.incr_least(["k1", "k3"], [10, 1], start=1) == 0  # 5/10 beats 1/1
    assert [state.lease_count(k) for k in keys] == [6, 1, 1]
    await state.arelease_lease("k2")
    state.release_lease("k2")  # none left: nothing, never below zero
    assert state.lease_count("k2") == 0


def test_the_leases_of_an_owner_that_stopped_stop_counting(state):
    keys = ["k1", "k2"]
    assert lease(state, keys, [1, 1], times=3, owner="killed") == [0, 1, 0]
    assert lease(state, keys, [1, 1], start=1, owner="alive") == [1]
    assert [state.lease_count(k) for k in keys] == [2, 2]
    state.delete(lease_owner_key("killed"))  # its liveness expired: the process is gone
    assert [state.lease_count(k) for k in keys] == [0, 1]
    assert lease(state, keys, [1, 1], start=1, owner="alive") == [0]  # k1 is free again
    state.release_lease("k1", owner="killed")  # a late release of a dropped lease changes nothing
    assert [state.lease_count(k) for k in keys] == [1, 1]


def test_an_owner_stays_alive_while_it_refreshes_and_not_longer():
    now = [0.0]
    state = MemoryState(clock=lambda: now[0])
    state.incr_least(["k"], [1], owner="streaming")
    for _ in range(4):  # a long stream: no new lease, only the liveness refresh
        now[0] += LEASE_OWNER_TTL_SECONDS - 1
        state.refresh_lease_owner("streaming")
        assert state.lease_count("k") == 1
    now[0] += LEASE_OWNER_TTL_SECONDS
    assert state.lease_count("k") == 0
