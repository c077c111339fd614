"""Errors of the services, put back onto the form that sent the input.

The services raise Django's ValidationError keyed by the API's names (`baseUrl`,
`rateLimit.capacity`, `nonFieldErrors`) or a DomainError (`.message`, `.errors`). The dashboard shows
the very same messages as the API, on the field they concern.
"""

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from routerproject.exceptions import DomainError

T = TypeVar("T")


def _field_for(key: str, form: forms.Form, names: Mapping[str, str]) -> tuple[str | None, str]:
    """(form field, prefix for the message): `rateLimit.capacity` -> ("rate_limit", "capacity: ")."""
    if key in (NON_FIELD_ERRORS, "nonFieldErrors"):
        return None, ""
    if names.get(key) in form.fields:  # a nested key with a field of its own (`sampling.rate`)
        return names[key], ""
    head, _, part = key.partition(".")
    field = names.get(head, head)
    if field in form.fields:
        return field, f"{part}: " if part else ""
    return None, f"{key}: "


def add_errors(
    form: forms.Form, errors: Mapping[str, Any], names: Mapping[str, str] | None = None
) -> None:
    for key, messages in errors.items():
        field, prefix = _field_for(str(key), form, names or {})
        for message in messages if isinstance(messages, list | tuple) else [messages]:
            form.add_error(field, f"{prefix}{message}")


def call_service(
    form: forms.Form, service: Callable[[], T], names: Mapping[str, str] | None = None
) -> T | None:
    """Run a service call; on a validation or domain error, file it on the form and return None."""
    try:
        return service()
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            add_errors(form, exc.message_dict, names)
        else:
            add_errors(form, {NON_FIELD_ERRORS: exc.messages})
    except DomainError as exc:
        if exc.errors:
            add_errors(form, exc.errors, names)
        else:
            form.add_error(None, exc.message)
    return None
