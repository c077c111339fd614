"""Selection over shared state, on memory and on Redis: eligibility, shared cursors, in-flight counts."""

from collections import Counter

import pytest

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
        assert int(await state.aget(in_flight_key(spec_instance)) or 0) == 0


async def test_incr_least_is_one_atomic_pick_and_increment(state):
    keys = ["k1", "k2", "k3"]
    state.set("k1", "5")
    state.set("k2", "-3")  # a count below zero (after a clear) counts as zero
    assert await state.aincr_least(keys, [1, 1, 1], start=0, ttl_seconds=60) == 1
    assert state.get("k2") == "-2"
    assert await state.aincr_least(keys, [1, 1, 1], start=2) == 2
    assert state.incr_least(["k1", "k3"], [10, 1], start=1) == 0  # 5/10 beats 1/1
    assert state.get("k1") == "6"
