"""The balancers' distributions, tested statistically, and their invariants, tested with Hypothesis."""

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routerproject.client_address import client_ip, parse_networks
from routerproject.state.memory import least_loaded
from routing.dataplane.balancers import (
    Pool,
    pick_ip_hash,
    pick_random,
    pick_round_robin,
    smooth_weighted_cycle,
)

DRAWS = 30_000


def shares(counts: Counter, n: int) -> list[float]:
    return [counts[i] / n for i in range(len(counts))]


def test_weighted_random_follows_the_weights_within_tolerance():
    pool = Pool(["a", "b", "c"], [1, 2, 7])
    rng = random.Random(42)
    counts = Counter(pick_random(pool, rng.random()) for _ in range(DRAWS))
    # Three standard deviations of a binomial share at 30k draws is under 0.01.
    for observed, expected in zip(shares(counts, DRAWS), [0.1, 0.2, 0.7], strict=True):
        assert observed == pytest.approx(expected, abs=0.01)


def test_weighted_random_covers_the_edges_of_the_draw():
    pool = Pool(["a", "b"], [1, 1])
    assert pick_random(pool, 0.0) == 0
    assert pick_random(pool, 0.9999999) == 1


def test_smooth_round_robin_matches_nginx_and_spreads_the_heavy_instance():
    assert smooth_weighted_cycle([5, 1, 1]) == (0, 0, 1, 0, 2, 0, 0)
    pool = Pool(["a", "b", "c"], [5, 1, 1])
    assert [pick_round_robin(pool, n) for n in range(14)] == [0, 0, 1, 0, 2, 0, 0] * 2


@given(st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=6))
def test_a_round_robin_cycle_gives_each_instance_exactly_its_weight(weights):
    cycle = smooth_weighted_cycle(weights)
    counts = Counter(cycle)
    smallest = min(weights)
    # Proportional: each count is the weight divided by the weights' common divisor.
    ratio = counts[weights.index(smallest)] / smallest
    for index, weight in enumerate(weights):
        assert counts[index] == pytest.approx(weight * ratio)


@given(st.lists(st.integers(min_value=1, max_value=30), min_size=2, max_size=6))
def test_smooth_round_robin_stays_within_two_picks_of_the_weights_at_every_step(weights):
    cycle = smooth_weighted_cycle(weights)
    total = sum(weights)
    counts = [0] * len(weights)
    # At every point of the cycle each instance has had its share of the picks so far, within a
    # small constant (about one pick in practice): no bursts of the heavy one, no starving of others.
    for picks, chosen in enumerate(cycle, start=1):
        counts[chosen] += 1
        for index, weight in enumerate(weights):
            assert abs(counts[index] - picks * weight / total) < 2


def test_least_connections_prefers_the_lowest_load_per_weight():
    assert least_loaded([3, 1, 2], [1, 1, 1]) == 1
    # 4/4 beats 2/1: the heavier instance takes more in flight.
    assert least_loaded([2, 4], [1, 4]) == 1
    # Ties go to the first from `start`.
    assert least_loaded([0, 0, 0], [1, 1, 1], start=2) == 2


def test_least_connections_under_steady_load_holds_in_flight_in_proportion_to_weight():
    weights = [1, 3]
    in_flight = [0, 0]
    for n in range(400):
        in_flight[least_loaded(in_flight, weights, start=n % 2)] += 1
    assert in_flight == [100, 300]


def test_ip_hash_is_stable_and_follows_the_weights():
    pool = Pool(["a@x", "b@x", "c@x"], [1, 1, 2])
    ips = [f"10.{i // 250}.{i % 250}.7" for i in range(20_000)]
    first = [pick_ip_hash(pool, ip) for ip in ips]
    assert first == [pick_ip_hash(pool, ip) for ip in ips]
    for observed, expected in zip(shares(Counter(first), len(ips)), [0.25, 0.25, 0.5], strict=True):
        assert observed == pytest.approx(expected, abs=0.015)


def test_adding_an_instance_to_ip_hash_moves_only_the_clients_it_wins():
    before = Pool(["a@x", "b@x", "c@x"], [1, 1, 1])
    after = Pool(["a@x", "b@x", "c@x", "d@x"], [1, 1, 1, 1])
    ips = [f"192.168.{i // 250}.{i % 250}" for i in range(20_000)]
    moved = 0
    for ip in ips:
        old, new = pick_ip_hash(before, ip), pick_ip_hash(after, ip)
        if old != new:
            assert new == 3, "a client may only move to the new instance"
            moved += 1
    assert moved / len(ips) == pytest.approx(0.25, abs=0.015)


def test_ip_hash_does_not_depend_on_the_order_of_instances():
    forward = Pool(["a@x", "b@x", "c@x"], [1, 2, 3])
    backward = Pool(["c@x", "b@x", "a@x"], [3, 2, 1])
    for i in range(500):
        ip = f"172.16.0.{i % 250}"
        assert forward.ids[pick_ip_hash(forward, ip)] == backward.ids[pick_ip_hash(backward, ip)]


def test_x_forwarded_for_is_trusted_only_from_configured_proxies():
    proxies = parse_networks(["10.0.0.0/8", "::1/128"])
    assert client_ip("203.0.113.9", "1.2.3.4", proxies) == "203.0.113.9"
    assert client_ip("10.1.1.1", "1.2.3.4", ()) == "10.1.1.1"
    assert client_ip("10.1.1.1", "1.2.3.4", proxies) == "1.2.3.4"
    # A spoofed left-most entry is skipped: the right-most untrusted hop is the client.
    assert client_ip("10.1.1.1", "6.6.6.6, 1.2.3.4, 10.2.2.2", proxies) == "1.2.3.4"
    assert client_ip("::1", "10.0.0.5, 10.0.0.6", proxies) == "10.0.0.5"
