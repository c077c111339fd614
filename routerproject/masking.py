"""Secrets never leave the gateway in clear: not in API responses, not in logs."""

import logging
import re

MASK = "…"

_SECRET_PATTERNS = [
    # OpenAI-style keys and our own API keys.
    (re.compile(r"\b(sk-[A-Za-z0-9_-]{0,3})[A-Za-z0-9_-]{8,}([A-Za-z0-9]{4})\b"), r"\1…\2"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1[masked]"),
    (
        re.compile(
            r"(?i)([\"']?(?:api[_-]?key|password|secret|token|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{4,}"
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


def mask_text(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class SecretMaskingFilter(logging.Filter):
    """Rewrites each record's final message with secrets masked, whatever logger produced it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
            masked = mask_text(message)
        except Exception:  # a malformed record (or one logged at interpreter exit) goes as it is
            return True
        if masked != message:
            record.msg, record.args = masked, None
        return True
