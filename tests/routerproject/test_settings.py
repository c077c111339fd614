import subprocess
import sys

import pytest

from routerproject.settings import env as settings_env
from tests.processes import ROOT, project_env

GOOD_SECRET = "k3y-" + "Zq8vN2mW5xR1tY7uI0oP4aS6dF9gH3jK" + "lL2zX5cV8bN1mQ4wE7r"


def _load_production(**env: str | None) -> subprocess.CompletedProcess[str]:
    base = {"DJANGO_SETTINGS_MODULE": "routerproject.settings.production", "DJANGO_DEBUG": None}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=project_env(**{**base, **env}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_starts_with_a_real_secret_and_hosts():
    result = _load_production(DJANGO_SECRET_KEY=GOOD_SECRET, ALLOWED_HOSTS="gw.example.com")
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"DJANGO_SECRET_KEY": None}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "embedded-insecure-secret-key-change-me"}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "too-short"}, "at least 50"),
        ({"DJANGO_SECRET_KEY": GOOD_SECRET, "DJANGO_DEBUG": "true"}, "DJANGO_DEBUG"),
        ({"DJANGO_SECRET_KEY": GOOD_SECRET, "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"DJANGO_SECRET_KEY": GOOD_SECRET, "DJANGO_DEBUG": "maybe"}, "boolean"),
        ({"DJANGO_SECRET_KEY": GOOD_SECRET, "LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"DJANGO_SECRET_KEY": GOOD_SECRET, "CELERY_LOG_LEVEL": "LOUD"}, "CELERY_LOG_LEVEL"),
    ],
)
def test_production_refuses_insecure_settings(env, complaint):
    env.setdefault("ALLOWED_HOSTS", "gw.example.com")
    result = _load_production(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and complaint in result.stderr


def test_env_readers_fail_loudly(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("X_INT", "eight")
    with pytest.raises(ImproperlyConfigured, match="X_INT"):
        settings_env.env_int("X_INT", 1)
    monkeypatch.setenv("X_INT", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        settings_env.env_int("X_INT", 1, minimum=1)
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert settings_env.env_list("X_LIST", []) == ["a", "b", "c"]
    monkeypatch.setenv("X_BOOL", "off")
    assert settings_env.env_bool("X_BOOL", True) is False


def test_log_levels_are_read_as_names_or_numbers(monkeypatch):
    from routerproject.settings import logs

    monkeypatch.setenv("X_LEVEL", "info")
    assert logs._level("X_LEVEL", "WARNING") == "INFO"
    monkeypatch.setenv("X_LEVEL", "20")  # as Celery's worker exports it to its pool
    assert logs._level("X_LEVEL", "WARNING") == 20
    monkeypatch.setenv("X_LEVEL", "")
    assert logs._level("X_LEVEL", "WARNING") == "WARNING"


def test_database_url_selects_the_engine():
    code = (
        "import django; from django.conf import settings; django.setup();"
        "d = settings.DATABASES['default']; print(d['ENGINE'], d['NAME'], d['HOST'], d['PORT'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=project_env(
            DJANGO_SETTINGS_MODULE="routerproject.settings.embedded",
            DATABASE_URL="postgres://gw@db.internal:6543/gateway",
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "gateway",
        "db.internal",
        "6543",
    ]


def _load_embedded(**env: str | None) -> subprocess.CompletedProcess[str]:
    return _load_production(DJANGO_SETTINGS_MODULE="routerproject.settings.embedded", **env)


def test_an_empty_database_url_is_the_embedded_default(tmp_path):
    result = _load_embedded(DATABASE_URL="", ROUTER_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_a_database_url_of_an_unknown_kind_is_refused_by_name(tmp_path):
    result = _load_embedded(
        DATABASE_URL="mongodb://user:hunter2@db:27017/x", ROUTER_VAR_DIR=str(tmp_path)
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: DATABASE_URL is not a database URL" in result.stderr
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"REDIS_URL": "memcached://h:11211"}, "the scheme must be one of"),
        ({"REDIS_URL": "redis+sentinel://app:hunter2@h:26379"}, "the path must name the primary"),
        (
            {"REDIS_URL": "redis+cluster://h:7000"},
            "set CELERY_BROKER_URL and CELERY_RESULT_BACKEND",
        ),
        ({"REDIS_URL": "redis://127.0.0.1:1/0", "STATE_KEY_PREFIX": ":"}, "STATE_KEY_PREFIX"),
    ],
)
def test_a_redis_the_gateway_cannot_use_is_refused_by_name(tmp_path, env, complaint):
    result = _load_embedded(ROUTER_VAR_DIR=str(tmp_path), **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and complaint in result.stderr
    assert "hunter2" not in result.stderr


def test_a_cluster_with_a_broker_of_its_own_and_a_sentinel_url_start(tmp_path):
    cluster = _load_embedded(
        ROUTER_VAR_DIR=str(tmp_path),
        REDIS_URL="redis+cluster://127.0.0.1:7000,127.0.0.1:7001",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/1",
        CELERY_RESULT_BACKEND="redis://127.0.0.1:6379/2",
    )
    assert cluster.returncode == 0, cluster.stderr
    sentinel = _load_embedded(
        ROUTER_VAR_DIR=str(tmp_path), REDIS_URL="redis+sentinel://127.0.0.1:26379/gateway/0"
    )
    assert sentinel.returncode == 0, sentinel.stderr
