"""Secrets never leave the gateway in clear: not in API responses, not in logs.

Every log record is masked when it is made (`install_record_masking`, run by the logging setup of
every process that loads the settings: web workers, Celery, management commands), whichever
handler then writes it — Django's console, gunicorn's and uvicorn's own handlers, Celery's —
its message, its traceback and its stack included.
"""

import logging
import logging.config
import re
from typing import Any

MASK = "…"

_SECRET_PATTERNS = [
    # OpenAI-style keys and our own API keys.
    (re.compile(r"\b(sk-[A-Za-z0-9_-]{0,3})[A-Za-z0-9_-]{8,}([A-Za-z0-9]{4})\b"), r"\1…\2"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1[masked]"),
    # JWTs wherever they appear (a header, a URL, an error message).
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"), "[masked-jwt]"),
    # A password in a URL's user information: scheme://user:password@host.
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@"), r"\1[masked]@"),
    (
        re.compile(
            r"(?i)([\"']?(?:api[_-]?key|passw(?:or)?d|secret|token|authorization|cookie|"
            r"session(?:id)?|credentials?)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{4,}"
        ),
        r"\1[masked]",
    ),
]


def mask_secret(value: str | None) -> str:
    """`sk-live-abcdef123456f3a9` -> `sk-…f3a9`; short secrets are hidden entirely."""
    if not value:
        return ""
    if len(value) <= 8:
        return MASK
    prefix = "sk-" if value.startswith("sk-") else value[:2]
    return f"{prefix}{MASK}{value[-4:]}"


def is_masked(value: str | None) -> bool:
    """True for a value that came back from `mask_secret`: an update sending it keeps the secret."""
    return bool(value) and MASK in value  # type: ignore[operator]


# What each pattern cannot match without (the same order): a substring test is far cheaper than a
# regular expression scan, and most log lines hold none of them.
_TRIGGERS: list[tuple[tuple[str, ...], bool]] = [
    (("sk-",), False),
    (("bearer",), True),
    (("eyJ",), False),
    (("://",), False),
    (
        (
            "apikey",
            "api_key",
            "api-key",
            "passw",
            "secret",
            "token",
            "authorization",
            "cookie",
            "session",
            "credential",
        ),
        True,
    ),
]


# Any of the triggers: one scan that clears most lines at once.
_ANY_TRIGGER = re.compile(
    r"sk-|eyJ|://|(?i:bearer|api[_-]?key|apikey|passw|secret|token|authorization|cookie|"
    r"session|credential)"
)


def mask_text(text: str) -> str:
    if not _ANY_TRIGGER.search(text):
        return text
    lowered = text.lower()
    for (pattern, replacement), (triggers, folded) in zip(_SECRET_PATTERNS, _TRIGGERS, strict=True):
        haystack = lowered if folded else text
        if any(trigger in haystack for trigger in triggers):
            text = pattern.sub(replacement, text)
            lowered = text.lower()
    return text


def mask_record(record: logging.LogRecord) -> None:
    """Mask a record's final message, traceback and stack in place (idempotent)."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed record (or one logged at interpreter exit) goes as it is
        return
    masked = mask_text(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and not record.exc_text:
        # Formatters use the cached text: the traceback is masked once, here.
        record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)


class SecretMaskingFilter(logging.Filter):
    """Masks each record a handler receives (for handlers configured outside these settings)."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


_unmasked_factory = logging.getLogRecordFactory()


# Loggers whose messages are built only from values already masked or never secret (the access
# log masks the one member a client writes freely); their records skip the scan.
PREMASKED_LOGGERS = frozenset({"gateway.access"})


def _masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _unmasked_factory(*args, **kwargs)
    if record.name not in PREMASKED_LOGGERS:
        mask_record(record)
    return record


def install_record_masking() -> None:
    logging.setLogRecordFactory(_masked_record)


def configure_logging(config: dict[str, Any]) -> None:
    """Django's LOGGING_CONFIG: the dictConfig, then masking of every record made from now on."""
    logging.config.dictConfig(config)
    install_record_masking()
