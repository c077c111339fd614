"""REDIS_URL names one server, a Redis Cluster or a primary behind Sentinel; every key of a
deployment shares one hash tag. The state operations themselves run on each topology through the
`state` fixture (test_state.py, test_scripts.py and the others that take it), and the fleet's
exactness on a cluster and through a Sentinel failover in resilience/test_fleet_topologies.py."""

import uuid

import pytest

from routerproject import redis_urls
from routerproject.state import RedisState
from routerproject.state.connections import hash_tagged


@pytest.mark.parametrize(
    ("prefix", "tagged"),
    [
        ("router:", "{router}:"),
        ("gw-eu", "{gw-eu}"),
        ("test-1:a:", "{test-1:a}:"),
        ("{fleet}:router:", "{fleet}:router:"),
    ],
)
def test_the_prefix_becomes_one_hash_tag(prefix, tagged):
    assert hash_tagged(prefix) == tagged


def test_an_empty_prefix_is_refused():
    with pytest.raises(ValueError, match="STATE_KEY_PREFIX"):
        hash_tagged(":")


def test_urls_name_their_topology():
    assert redis_urls.parse("redis://127.0.0.1:6379/3").kind == redis_urls.STANDALONE
    assert redis_urls.parse("unix:///run/redis.sock?db=2").kind == redis_urls.STANDALONE
    cluster = redis_urls.parse("rediss+cluster://app:s3cret@a.example:7000,b.example:7001,c")
    assert cluster.kind == redis_urls.CLUSTER
    assert cluster.nodes == (("a.example", 7000), ("b.example", 7001), ("c", 6379))
    assert (cluster.username, cluster.password, cluster.tls) == ("app", "s3cret", True)
    sentinel = redis_urls.parse(
        "redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2/main-gw/4?sentinel_password=sp"
    )
    assert sentinel.kind == redis_urls.SENTINEL
    assert sentinel.nodes == (("10.0.0.1", 26379), ("10.0.0.2", 26379))
    assert (sentinel.primary, sentinel.db, sentinel.password) == ("main-gw", 4, "pw")
    assert sentinel.sentinel_password == "sp"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:6379", "the scheme must be one of"),
        ("127.0.0.1:6379", "the scheme must be one of"),
        ("redis+sentinel://127.0.0.1:26379", "the path must name the primary"),
        ("redis+sentinel://127.0.0.1:26379/main/x", "unexpected path"),
        ("redis+cluster://127.0.0.1:7000/2", "unexpected path"),
        ("redis+cluster://:pw@", "no host:port given"),
        ("redis+cluster://a:99999", "is not host:port"),
    ],
)
def test_a_url_that_names_no_topology_says_why(url, message):
    with pytest.raises(ValueError, match=message):
        redis_urls.parse(url)


def test_messages_mask_the_passwords():
    url = "redis+sentinel://app:s3cret@h:26379/main/0?sentinel_password=sp2&x=1"
    masked = redis_urls.mask(url)
    assert "s3cret" not in masked and "sp2" not in masked
    assert masked == "redis+sentinel://app:***@h:26379/main/0?sentinel_password=***&x=1"
    with pytest.raises(ValueError) as refused:
        redis_urls.parse("redis+sentinel://app:s3cret@h:26379")
    assert "s3cret" not in str(refused.value)


def test_celery_follows_the_sentinels_and_needs_a_broker_of_its_own_beside_a_cluster():
    broker, options = redis_urls.celery_urls("redis+sentinel://:pw@h1:26379,h2:26380/main/2")
    assert broker == "sentinel://:pw@h1:26379/2;sentinel://:pw@h2:26380/2"
    assert options == {"master_name": "main"}
    assert redis_urls.celery_urls("redis://h:6379/1") == ("redis://h:6379/1", {})
    assert redis_urls.celery_urls("redis+cluster://h:7000") is None


def test_every_key_of_a_deployment_lives_in_one_cluster_slot(redis_cluster_url):
    state = RedisState(redis_cluster_url, prefix=f"test-slot-{uuid.uuid4().hex}:")
    try:
        for index in range(40):
            state.set(f"value:{index}", "x")
            state.incr(f"counter:{index}")
        keys = list(state.client.scan_iter(match=state.prefix + "*"))
        assert len(keys) == 80
        assert len({state.client.keyslot(key) for key in keys}) == 1
        # Multi-key reads and scripts over many keys answer (one slot: no CROSSSLOT refusal).
        assert state.get_many([f"value:{i}" for i in range(40)]) == ["x"] * 40
        assert state.incr_least([f"lease:{i}" for i in range(8)], [1.0] * 8) == 0
    finally:
        state.clear()
    assert list(state.client.scan_iter(match=state.prefix + "*")) == []
