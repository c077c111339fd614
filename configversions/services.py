"""Every configuration write goes through here, so that each one records a version.

All writers take the row lock of the single `ConfigPointer` first: configuration changes are
serialised across threads, workers and hosts, no update is lost and no two versions share a number
(the unique constraint on `number` is the backstop). The shared configuration generation is bumped
after commit, which tells every worker to rebuild its live snapshot.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import Max

from routerproject.exceptions import Conflict, InvalidInput
from routerproject.state import GENERATION_KEY, get_state

from .models import ConfigPointer, ConfigVersion
from .sections import sections
from .selectors import live_snapshot, version_get

logger = logging.getLogger(__name__)

Actor = AbstractBaseUser | AnonymousUser | None


@dataclass
class ConfigChange:
    """Filled in when the change commits: the version it wrote, or None when nothing changed."""

    version: ConfigVersion | None = None


def bump_generation() -> int | None:
    """Tell every worker the configuration moved. The change is committed either way: with the
    shared state unreachable, workers pick it up at the next bump that gets through."""
    try:
        return get_state().incr(GENERATION_KEY)
    except Exception:
        logger.warning("Configuration committed but the generation bump failed", exc_info=True)
        return None


def _locked_pointer() -> ConfigPointer:
    if not ConfigPointer.objects.filter(pk=1).exists():
        try:
            with transaction.atomic():
                ConfigPointer.objects.create(pk=1)
        except IntegrityError:
            pass  # another writer created it first
    return ConfigPointer.objects.select_for_update().get(pk=1)


def _record(
    pointer: ConfigPointer, *, actor: Actor, operation: str, force: bool = False
) -> ConfigVersion | None:
    snapshot = live_snapshot()
    if not force and pointer.current_number is not None:
        current = ConfigVersion.objects.filter(number=pointer.current_number).first()
        if current is not None and current.snapshot == snapshot:
            return None
    number = (ConfigVersion.objects.aggregate(top=Max("number"))["top"] or 0) + 1
    version = ConfigVersion.objects.create(
        number=number,
        snapshot=snapshot,
        operation=operation,
        created_by_id=actor.pk if actor is not None and actor.is_authenticated else None,
    )
    pointer.current_number = number
    pointer.save(update_fields=["current_number", "updated_at"])
    transaction.on_commit(bump_generation)
    return version


@contextmanager
def config_change(*, actor: Actor, operation: str) -> Iterator[ConfigChange]:
    """Wrap a configuration write: `with config_change(actor=u, operation="instance_add") as change:`."""
    change = ConfigChange()
    with transaction.atomic():
        pointer = _locked_pointer()
        yield change
        change.version = _record(pointer, actor=actor, operation=operation)


def _load(content: dict[str, Any]) -> None:
    for section in sections():
        section.load(content[section.key] if section.key in content else section.default())


def _validated(content: Any) -> dict[str, Any]:
    if not isinstance(content, dict):
        raise InvalidInput("A configuration must be an object of sections")
    known = {section.key for section in sections()}
    unknown = sorted(set(content) - known)
    if unknown:
        raise InvalidInput(errors={unknown[0]: [f"Unknown section; expected {sorted(known)}."]})
    return {s.key: s.validate(content[s.key]) for s in sections() if s.key in content}


@transaction.atomic
def version_apply(*, number: int, actor: Actor) -> ConfigVersion:
    """Make version `number` live: the database takes its content; no new version is written."""
    pointer = _locked_pointer()
    version = version_get(number=number)
    _load(version.snapshot)
    pointer.current_number = version.number
    pointer.save(update_fields=["current_number", "updated_at"])
    transaction.on_commit(bump_generation)
    return version


@transaction.atomic
def version_rollback(*, number: int, actor: Actor) -> ConfigChange:
    """Write a new version whose content is version `number`'s, and make it live."""
    pointer = _locked_pointer()
    target = version_get(number=number)
    _load(target.snapshot)
    return ConfigChange(_record(pointer, actor=actor, operation=f"rollback to v{number}"))


@transaction.atomic
def version_delete(*, number: int) -> None:
    pointer = _locked_pointer()
    version = version_get(number=number)
    if pointer.current_number == number:
        raise Conflict(f"Version {number} is the current version and cannot be deleted")
    version.delete()


@transaction.atomic
def configuration_reset(*, actor: Actor) -> ConfigChange:
    pointer = _locked_pointer()
    _load({})
    return ConfigChange(_record(pointer, actor=actor, operation="reset"))


@transaction.atomic
def configuration_import(*, content: Any, actor: Actor, operation: str = "import") -> ConfigChange:
    """Replace the configuration with `content` (a snapshot: from a file, a backup, a client)."""
    canonical = _validated(content)
    pointer = _locked_pointer()
    _load(canonical)
    return ConfigChange(_record(pointer, actor=actor, operation=operation))


@transaction.atomic
def configuration_seed(*, content: Any | None = None) -> ConfigVersion | None:
    """On an empty database: the baseline (a file's content, else the defaults) becomes version 1."""
    pointer = _locked_pointer()
    if ConfigVersion.objects.exists():
        return None
    _load(_validated(content) if content is not None else {})
    return _record(pointer, actor=None, operation="baseline", force=True)
