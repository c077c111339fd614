import pytest
from django.test import Client

from configversions.services import configuration_seed


@pytest.fixture
def seeded(db):
    """The defaults as version 1, as on a fresh installation."""
    return configuration_seed()


@pytest.fixture
def staff_browser(staff_user, seeded) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def reader_browser(reader_user, seeded) -> Client:
    client = Client()
    client.force_login(reader_user)
    return client
