from typing import Any

from django.db.models import QuerySet

from routerproject.exceptions import NotFound

from .models import ConfigPointer, ConfigVersion
from .sections import sections


def version_list() -> QuerySet[ConfigVersion]:
    return ConfigVersion.objects.select_related("created_by").order_by("number")


def version_get(*, number: int) -> ConfigVersion:
    version = version_list().filter(number=number).first()
    if version is None:
        raise NotFound(f"Configuration version {number} does not exist")
    return version


def current_version_number() -> int | None:
    pointer = ConfigPointer.objects.filter(pk=1).first()
    return pointer.current_number if pointer else None


def live_snapshot() -> dict[str, Any]:
    """The configuration as it is in the database now, in snapshot form (secrets in clear)."""
    return {section.key: section.export() for section in sections()}


def masked_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    by_key = {section.key: section for section in sections()}
    return {
        key: by_key[key].mask(content) if key in by_key else content
        for key, content in snapshot.items()
    }
