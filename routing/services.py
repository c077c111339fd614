"""Writes to service types and instances. Each one records a configuration version (or none when
nothing changed) through `configversions.services.config_change`."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError

from configversions.services import Actor, config_change
from routerproject.exceptions import Conflict, InvalidInput
from routerproject.masking import is_masked
from routerproject.state import get_state

from . import config_schema, representation
from .live_config import get_live_config
from .models import ServiceInstance, ServiceType
from .neural.model_holder import ServedModel
from .neural_runtime import runtime
from .representation import api_error
from .resilience.shared_breakers import health_key
from .selectors import instance_get, instance_get_by_id, service_type_get
from .service_types import HealthStatus
from .services_section import ROUTER_FIELDS, router_settings_row

SERVICE_TYPE_FIELDS = frozenset(representation.SERVICE_FIELDS.values())
INSTANCE_FIELDS = frozenset(representation.INSTANCE_FIELDS.values())


def _check_fields(changes: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise InvalidInput(errors={unknown[0]: ["Unknown field."]})


def service_type_create(*, name: str, actor: Actor, **fields: Any) -> ServiceType:
    config_schema.service_type_name(name)
    _check_fields(fields, SERVICE_TYPE_FIELDS)
    with config_change(actor=actor, operation=f"create service {name}"):
        if ServiceType.objects.filter(name=name).exists():
            raise Conflict(f"Service type '{name}' already exists")
        service = ServiceType(name=name, **fields)
        _clean_service(service)
        service.save()
    return service


def service_type_update(*, name: str, actor: Actor, **changes: Any) -> ServiceType:
    _check_fields(changes, SERVICE_TYPE_FIELDS)
    with config_change(actor=actor, operation=f"update service {name}"):
        service = service_type_get(name=name)
        for field, value in changes.items():
            setattr(service, field, value)
        _clean_service(service)
        service.save()
    return service


def service_type_delete(*, name: str, actor: Actor) -> None:
    with config_change(actor=actor, operation=f"delete service {name}"):
        service_type_get(name=name).delete()


def _clean_service(service: ServiceType) -> None:
    try:
        service.full_clean(validate_unique=False)
    except ValidationError as exc:
        raise api_error(exc, representation.SERVICE_FIELDS) from None


def _save_instance(instance: ServiceInstance) -> None:
    try:
        instance.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise api_error(exc, representation.INSTANCE_FIELDS) from None
    duplicate = ServiceInstance.objects.filter(
        service_type=instance.service_type, name=instance.name, base_url=instance.base_url
    ).exclude(pk=instance.pk)
    if duplicate.exists():
        raise Conflict(f"Instance '{instance.instance_id}' already exists")
    try:
        instance.save()
    except IntegrityError:
        raise Conflict(f"Instance '{instance.instance_id}' already exists") from None


def instance_add(
    *, service_type: str, name: str, base_url: str, actor: Actor, **fields: Any
) -> ServiceInstance:
    _check_fields(fields, INSTANCE_FIELDS)
    with config_change(actor=actor, operation=f"add instance {name}@{base_url} to {service_type}"):
        service = service_type_get(name=service_type)
        instance = ServiceInstance(service_type=service, name=name, base_url=base_url, **fields)
        _save_instance(instance)
    return instance


def _keep_masked_secrets(instance: ServiceInstance, changes: dict[str, Any]) -> dict[str, Any]:
    """A client that sends back the masked value it was shown means "keep the stored secret"."""
    changes = dict(changes)
    if is_masked(changes.get("api_key")):
        changes.pop("api_key")
    if isinstance(changes.get("headers"), dict):
        stored = instance.headers or {}
        changes["headers"] = {
            key: stored.get(key, value) if is_masked(value) else value
            for key, value in changes["headers"].items()
        }
    return changes


def instance_update(
    *, service_type: str, instance_id: str, actor: Actor, **changes: Any
) -> ServiceInstance:
    _check_fields(changes, INSTANCE_FIELDS)
    with config_change(actor=actor, operation=f"update instance {instance_id} in {service_type}"):
        instance = instance_get_by_id(service_type=service_type, instance_id=instance_id)
        for field, value in _keep_masked_secrets(instance, changes).items():
            setattr(instance, field, value)
        _save_instance(instance)
    return instance


def instance_delete(*, service_type: str, name: str, base_url: str, actor: Actor) -> None:
    with config_change(
        actor=actor, operation=f"delete instance {name}@{base_url} from {service_type}"
    ):
        instance_get(service_type=service_type, name=name, base_url=base_url).delete()


def router_settings_update(*, actor: Actor, **changes: Any) -> list[str]:
    """Change the neural router's settings; returns the fields whose value really changed."""
    unknown = sorted(set(changes) - set(ROUTER_FIELDS))
    if unknown:
        raise InvalidInput(errors={unknown[0]: ["Unknown or read-only field."]})
    with config_change(actor=actor, operation="update router settings"):
        row = router_settings_row()
        updated = [f for f, v in changes.items() if getattr(row, f) != v]
        for field, value in changes.items():
            setattr(row, field, value)
        row.full_clean(validate_unique=False)
        row.save()
    return updated


def instance_health_record(
    *, results: Mapping[int, bool], checked_at: datetime, ttl_seconds: float
) -> int:
    """Store probe results: `healthStatus`/`lastHealthCheck` on the rows (runtime observations, no
    configuration version) and the health bit the data plane reads (`health:{instance_id}`, which
    expires after `ttl_seconds` so that stopped probes never keep an instance out). Idempotent."""
    state = get_state()
    rows = ServiceInstance.objects.filter(pk__in=list(results)).only("id", "name", "base_url")
    for instance in rows:
        status = HealthStatus.HEALTHY if results[instance.pk] else HealthStatus.UNHEALTHY
        state.set(health_key(instance.instance_id), status.value, ttl_seconds)
    updated = 0
    for healthy in (True, False):
        keys = [key for key, ok in results.items() if ok is healthy]
        if keys:
            updated += ServiceInstance.objects.filter(pk__in=keys).update(
                health_status=HealthStatus.HEALTHY if healthy else HealthStatus.UNHEALTHY,
                last_health_check=checked_at,
            )
    return updated


def router_model_reload() -> ServedModel:
    """Hot-reload the neural router's model file: loaded and checked here first (a bad file raises
    `ModelFileError` and the model in service stays), then swapped in on every worker."""
    runtime.reload(get_live_config().router)
    served = runtime.router.served_model if runtime.router is not None else None
    assert served is not None
    return served
