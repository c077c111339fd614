"""Concurrent configuration writers on PostgreSQL: no lost update, no duplicate version number."""

import threading

import pytest
from django.db import connection, connections

from configversions.models import ConfigVersion
from configversions.selectors import current_version_number
from routing.models import ServiceInstance
from routing.services import instance_add, instance_update

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 12


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "row locking under real concurrency needs PostgreSQL (runs in the services pass)"
        )


def _in_threads(work) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(WRITERS)

    def run(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_concurrent_adds_each_get_their_own_version():
    errors = _in_threads(
        lambda i: instance_add(
            service_type="chat", name=f"model-{i}", base_url="http://h:1", actor=None
        )
    )
    assert errors == []
    numbers = list(ConfigVersion.objects.order_by("number").values_list("number", flat=True))
    assert numbers == list(range(1, WRITERS + 2))  # baseline + one per writer, no gaps, no twins
    assert current_version_number() == WRITERS + 1
    last = ConfigVersion.objects.get(number=WRITERS + 1).snapshot
    assert len(last["services"]["chat"]["instances"]) == WRITERS
    assert ServiceInstance.objects.count() == WRITERS


def test_concurrent_updates_of_different_fields_all_land():
    instance_add(service_type="chat", name="m", base_url="http://h:1", actor=None)
    changes = [
        {"weight": 7},
        {"enabled": False},
        {"path": "/v2/chat"},
        {"adapter": "vllm"},
    ]
    errors = _in_threads(
        lambda i: instance_update(
            service_type="chat", instance_id="m@http://h:1", actor=None, **changes[i % len(changes)]
        )
    )
    assert errors == []
    stored = ServiceInstance.objects.get()
    assert (stored.weight, stored.enabled, stored.path, stored.adapter) == (
        7,
        False,
        "/v2/chat",
        "vllm",
    )
    # Four real changes, the repeats wrote nothing.
    assert ConfigVersion.objects.count() == 1 + 1 + len(changes)


def test_concurrent_weight_changes_leave_a_consistent_history():
    instance_add(service_type="chat", name="m", base_url="http://h:1", actor=None)
    errors = _in_threads(
        lambda i: instance_update(
            service_type="chat", instance_id="m@http://h:1", actor=None, weight=i + 1
        )
    )
    assert errors == []
    versions = list(ConfigVersion.objects.order_by("number"))
    assert [v.number for v in versions] == list(range(1, len(versions) + 1))
    final_weight = ServiceInstance.objects.get().weight
    latest = versions[-1].snapshot["services"]["chat"]["instances"][0]["weight"]
    assert latest == final_weight  # the live rows are exactly the current version
