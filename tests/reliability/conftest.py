import re
import shutil
from urllib.parse import urlsplit

import pytest
from django.db import connection

from tests.backends import fresh_postgres_database
from tests.processes import manage, project_env
from tests.reliability.services import PrivateRedis


@pytest.fixture
def services_pass():
    """Fault tests break real services: they run once, in the services pass (PostgreSQL)."""
    if connection.vendor != "postgresql":
        pytest.skip("fault tests run against real PostgreSQL and Redis (the services pass)")


@pytest.fixture(scope="session")
def migrated_template(postgres_server_url, tmp_path_factory):
    """A database migrated once per run; each test's database is a copy (CREATE … TEMPLATE)."""
    with fresh_postgres_database(postgres_server_url, label="template") as url:
        env = project_env(
            DJANGO_SETTINGS_MODULE="routerproject.settings.embedded",
            DATABASE_URL=url,
            REDIS_URL=None,
            ROUTER_VAR_DIR=str(tmp_path_factory.mktemp("template")),
        )
        migrated = manage("migrate", "--noinput", env=env)
        assert migrated.returncode == 0, migrated.stderr[-2000:]
        yield urlsplit(url).path.lstrip("/")


@pytest.fixture
def gateway_database(services_pass, postgres_server_url, migrated_template, request):
    """A fresh, migrated PostgreSQL database for the gateway processes of one test."""
    label = re.sub(r"\W", "_", request.node.name[5:25])
    with fresh_postgres_database(
        postgres_server_url, label=label, template=migrated_template
    ) as url:
        yield url


@pytest.fixture
def private_redis(services_pass, tmp_path):
    """A redis-server of this test's own, which it may stop and start."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()
