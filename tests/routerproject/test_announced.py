"""Generation moves announced through the database, followed by another process's state
(`routerproject.state.announced`); the two processes are two states here, the thread one poll."""

import pytest

from authjwt.keys import GENERATION_KEY as API_KEYS_GENERATION
from routerproject.models import AnnouncedGeneration
from routerproject.state import GENERATION_KEY, AnnouncingState
from routerproject.state.announced import ANNOUNCED_KEYS, AnnouncementFollower, announced_moves
from routing.neural_runtime import BREAKER_RESET_KEY, RELOAD_KEY

pytestmark = pytest.mark.django_db


def test_every_generation_the_caches_follow_is_announced():
    assert {GENERATION_KEY, API_KEYS_GENERATION, RELOAD_KEY, BREAKER_RESET_KEY} <= ANNOUNCED_KEYS


def test_another_process_moves_reach_this_state_once_and_unannounced():
    command, server = AnnouncingState(), AnnouncingState()
    server.incr(GENERATION_KEY)  # the server's own change
    follower = AnnouncementFollower(server)
    command.incr(GENERATION_KEY)
    command.incr(RELOAD_KEY)
    command.set(API_KEYS_GENERATION, "token-of-the-command")
    command.set("router:decision:a-client-id-ending-in-generation", "x")  # not a counter
    counts = announced_moves()
    assert counts == {GENERATION_KEY: 2, RELOAD_KEY: 1, API_KEYS_GENERATION: 1}

    assert follower.poll() == sorted([GENERATION_KEY, RELOAD_KEY, API_KEYS_GENERATION])
    assert server.get(GENERATION_KEY) == "2" and server.get(RELOAD_KEY) == "1"
    token = server.get(API_KEYS_GENERATION)
    assert token not in (None, "token-of-the-command")
    assert announced_moves() == counts  # following is not announcing (no echo between servers)
    assert follower.poll() == []

    server.set(API_KEYS_GENERATION, "server-token")  # a token moves to a new token
    assert follower.poll() == [API_KEYS_GENERATION]
    assert server.get(API_KEYS_GENERATION) not in ("server-token", token)


def test_counts_unreadable_at_start_move_everything_once(monkeypatch):
    AnnouncingState().incr(RELOAD_KEY)
    server = AnnouncingState()
    monkeypatch.setattr(AnnouncedGeneration.objects, "values_list", broken)
    follower = AnnouncementFollower(server)
    assert follower.seen is None and follower.poll() == []
    monkeypatch.undo()
    assert follower.poll() == [RELOAD_KEY] and server.get(RELOAD_KEY) == "1"


def broken(*args, **kwargs):
    from django.db import OperationalError

    raise OperationalError("database unavailable")
