"""Routing outcomes are folded into the exemplars exactly once: a run that dies before or after
committing leaves a claim the next run folds (or lets go); the claim step is the same atomic move on
memory and on Redis."""

import json

import pytest
from django.db import transaction

from routerproject.state import get_state
from routing import exemplars
from routing.exemplars import CLAIM_OUTCOMES, CLAIMS_KEY, OUTCOMES_KEY
from routing.models import FoldedOutcomeBatch, RoutingExemplar
from routing.tasks import flush_routing_outcomes
from tests.routing.outcomes import outcome_events

EVENTS = 7


def queue_outcomes(count: int, *, start: int = 0) -> None:
    get_state().list_push(OUTCOMES_KEY, *outcome_events(count, start=start))


def folded() -> list[int]:
    return list(
        RoutingExemplar.objects.order_by("prompt_hash").values_list("access_count", flat=True)
    )


def test_the_claim_moves_a_batch_atomically_on_every_backend(state):
    state.list_push("queue", "a", "b", "c")
    (entry,) = state.run_script(CLAIM_OUTCOMES, ["queue", "claims"], [2, "claim-1"])
    assert json.loads(entry) == {"id": "claim-1", "events": ["a", "b"]}
    assert state.list_range("queue", 10) == ["c"]
    assert state.list_range("claims", 10) == [entry]
    assert state.run_script(CLAIM_OUTCOMES, ["empty", "claims"], [2, "claim-2"]) == []
    assert state.list_range("claims", 10) == [entry]


@pytest.mark.django_db(transaction=True)
def test_a_run_that_dies_after_committing_is_not_folded_again(monkeypatch):
    queue_outcomes(EVENTS)
    state = get_state()

    def killed(*args, **kwargs):
        raise SystemExit("worker killed before letting go of its claim")

    monkeypatch.setattr(state, "list_remove", killed)
    with pytest.raises(SystemExit):
        exemplars.flush_outcomes()
    monkeypatch.undo()
    assert folded() == [1] * EVENTS and len(state.list_range(CLAIMS_KEY, 10)) == 1

    queue_outcomes(3, start=EVENTS)
    assert flush_routing_outcomes.delay().get() == EVENTS + 3
    assert folded() == [1] * (EVENTS + 3), "each outcome counted exactly once"
    assert state.list_range(CLAIMS_KEY, 10) == [] and state.list_range(OUTCOMES_KEY, 10) == []
    assert FoldedOutcomeBatch.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_run_that_dies_before_committing_leaves_its_claim_to_the_next(monkeypatch):
    queue_outcomes(EVENTS)
    real_apply = exemplars._apply

    def dies_halfway(events, services):
        real_apply(list(events)[:3], services)
        raise SystemExit("worker killed mid-transaction")

    monkeypatch.setattr(exemplars, "_apply", dies_halfway)
    with pytest.raises(SystemExit):
        exemplars.flush_outcomes()
    monkeypatch.undo()
    assert folded() == [] and not FoldedOutcomeBatch.objects.exists(), "rolled back as a whole"

    assert flush_routing_outcomes.delay().get() == EVENTS
    assert folded() == [1] * EVENTS
    assert get_state().list_range(CLAIMS_KEY, 10) == []


@pytest.mark.django_db(transaction=True)
def test_a_claim_already_in_the_ledger_is_let_go_without_folding():
    queue_outcomes(2)
    claimed = get_state().run_script(CLAIM_OUTCOMES, [OUTCOMES_KEY, CLAIMS_KEY], [10, "seen"])
    assert len(claimed) == 1
    with transaction.atomic():
        FoldedOutcomeBatch.objects.create(claim_id="seen", events=2)
    assert exemplars.recover_claims() == 2
    assert folded() == [] and get_state().list_range(CLAIMS_KEY, 10) == []
