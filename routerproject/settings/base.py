"""Settings shared by every mode. The modes (`embedded`, `production`, `test`) import this module."""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from routerproject import redis_urls

from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("ROUTER_VAR_DIR", str(BASE_DIR / "var")))

# The value production refuses: it is public, being in the source.
INSECURE_SECRET_KEY = "embedded-insecure-secret-key-change-me"  # noqa: S105
SECRET_KEY = env_str("DJANGO_SECRET_KEY", INSECURE_SECRET_KEY)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    # The kernel is an app only for its management commands (`migrate` under an advisory lock).
    "routerproject",
    "routing",
    "configversions",
    "authjwt",
    "monitoring",
    "dashboard",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "routerproject.headers.SecurityHeadersMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "routerproject.unavailable.DatabaseUnavailableMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "routerproject.urls"
WSGI_APPLICATION = "routerproject.wsgi.application"
ASGI_APPLICATION = "routerproject.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# DATABASE_URL: postgres://user@host:5432/name in production; SQLite under var/ is the embedded default.
# An empty DATABASE_URL is the default, as if unset.
_database_url = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
try:
    DATABASES = {
        "default": dj_database_url.parse(
            _database_url,
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
            conn_health_checks=True,
        )
    }
except ValueError as _error:  # dj-database-url's UnknownSchemeError among them
    raise ImproperlyConfigured(
        f"DATABASE_URL is not a database URL (postgres://… or sqlite:///…): {_error}"
    ) from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Several processes (web, Celery) share the file: wait for locks rather than fail at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
_test_db_name = env_str("DJANGO_TEST_DB_NAME")
if _test_db_name:
    DATABASES["default"]["TEST"] = {"NAME": _test_db_name}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "servestatic.storage.CompressedManifestStaticFilesStorage"},
}

# Without a collected STATIC_ROOT (DEBUG work on the code), serve straight from the apps.
SERVESTATIC_USE_FINDERS = DEBUG

LOGIN_URL = "admin:login"

# Shared state (limiters, breakers, cursors, generation): Redis when REDIS_URL is set, else this process.
# One server (redis://, rediss://, unix://), a Redis Cluster (redis+cluster://) or a primary behind
# Sentinel (redis+sentinel://): routerproject.redis_urls.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    try:
        redis_urls.parse(REDIS_URL)
    except ValueError as exc:
        raise ImproperlyConfigured(str(exc)) from None
STATE_BACKEND = "redis" if REDIS_URL else "memory"
# Made a hash tag in Redis (`router:` -> `{router}:`): every key of a deployment in one cluster slot.
STATE_KEY_PREFIX = env_str("STATE_KEY_PREFIX", "router:")
if not STATE_KEY_PREFIX.strip("{}:"):
    raise ImproperlyConfigured("STATE_KEY_PREFIX must name the deployment, got an empty prefix")
# Process-local state: generation moves go through the database too, so that the serving process
# notices changes made by another one (`manage.py` commands); see routerproject.state.announced.
STATE_ANNOUNCES_GENERATIONS = STATE_BACKEND == "memory"

# Where `make run` and the uvicorn launcher bind; the seed's TINY_DANCER_* names are accepted too.
BIND_HOST = env_str("HOST") or env_str("TINY_DANCER_BIND_ADDRESS") or "127.0.0.1"
BIND_PORT = env_int("PORT", env_int("TINY_DANCER_PORT", 8080, minimum=1), minimum=1)

ROUTER_VERSION = "0.1.0"

# A snapshot file (YAML or JSON) that seeds an empty database as configuration version 1.
ROUTER_CONFIG_FILE = env_str("ROUTER_CONFIG_FILE")
# How often each worker checks the shared configuration generation (seconds).
LIVE_CONFIG_CHECK_INTERVAL = 0.5

from .celery import *  # noqa: E402, F403
from .drf import *  # noqa: E402, F403
from .gateway import *  # noqa: E402, F403
from .jwt import *  # noqa: E402, F403
from .logs import *  # noqa: E402, F403
from .monitoring import *  # noqa: E402, F403
from .neural import *  # noqa: E402, F403
from .security import *  # noqa: E402, F403
