"""Logging: one console stream; every record has its secrets masked when it is made
(`routerproject.masking.configure_logging`), before any handler, ours or a server's, sees it."""

from .env import env_str

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()

LOGGING_CONFIG = "routerproject.masking.configure_logging"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_secrets": {"()": "routerproject.masking.SecretMaskingFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["mask_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
