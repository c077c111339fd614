"""The Django admin changes the configuration through the same services: versions, masking, rules."""

import pytest

from configversions.models import ConfigVersion
from routing.models import ServiceInstance, ServiceType

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", password="root-pass-123")
    client.force_login(user)
    return client


def _instance_form(**overrides):
    chat = ServiceType.objects.get(name="chat")
    form = {
        "service_type": chat.pk,
        "name": "qwen2:7b",
        "base_url": "http://ollama:11434",
        "api_key": "sk-admin-secret-99998888",
        "weight": 3,
        "enabled": "on",
        "adapter": "ollama",
        "path": "",
        "headers": "{}",
        "tier": "",
        "rate_limit": "null",
        "circuit_breaker": "null",
    }
    form.update(overrides)
    return form


def test_adding_an_instance_in_the_admin_records_a_version(admin_client):
    response = admin_client.post("/django-admin/routing/serviceinstance/add/", _instance_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    instance = ServiceInstance.objects.get()
    assert instance.api_key == "sk-admin-secret-99998888" and instance.weight == 3
    latest = ConfigVersion.objects.order_by("number").last()
    assert latest.number == 2 and latest.operation.startswith("add instance qwen2:7b")
    assert latest.created_by.username == "root"


def test_the_admin_never_shows_the_key_and_keeps_it_when_left_empty(admin_client):
    admin_client.post("/django-admin/routing/serviceinstance/add/", _instance_form())
    instance = ServiceInstance.objects.get()
    page = admin_client.get(
        f"/django-admin/routing/serviceinstance/{instance.pk}/change/"
    ).content.decode()
    assert "sk-admin-secret-99998888" not in page and "sk-…8888" in page
    response = admin_client.post(
        f"/django-admin/routing/serviceinstance/{instance.pk}/change/",
        _instance_form(api_key="", weight=5),
    )
    assert response.status_code == 302
    instance.refresh_from_db()
    assert instance.weight == 5 and instance.api_key == "sk-admin-secret-99998888"
    assert ConfigVersion.objects.count() == 3


def test_the_admin_shows_validation_messages(admin_client):
    response = admin_client.post(
        "/django-admin/routing/serviceinstance/add/", _instance_form(base_url="ftp://x")
    )
    assert response.status_code == 200
    assert "Must be an http:// or https:// URL" in response.content.decode()
    assert not ServiceInstance.objects.exists() and ConfigVersion.objects.count() == 1


def test_deleting_in_the_admin_records_a_version(admin_client):
    admin_client.post("/django-admin/routing/serviceinstance/add/", _instance_form())
    instance = ServiceInstance.objects.get()
    response = admin_client.post(
        f"/django-admin/routing/serviceinstance/{instance.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not ServiceInstance.objects.exists()
    assert ConfigVersion.objects.order_by("number").last().operation.startswith("delete instance")


def test_versions_can_be_applied_from_the_admin(admin_client):
    admin_client.post("/django-admin/routing/serviceinstance/add/", _instance_form())
    first = ConfigVersion.objects.get(number=1)
    response = admin_client.post(
        "/django-admin/configversions/configversion/",
        {"action": "apply_version", "_selected_action": [first.pk]},
    )
    assert response.status_code == 302
    assert not ServiceInstance.objects.exists()
    listing = admin_client.get("/django-admin/configversions/configversion/").content.decode()
    assert "baseline" in listing
