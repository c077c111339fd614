"""The `services` section of a configuration snapshot: export, validate, load, default, mask."""

from typing import Any

from django.core.exceptions import ValidationError

from configversions.sections import ConfigSection

from . import config_schema
from .models import RouterSettings, ServiceInstance, ServiceType
from .representation import (
    INSTANCE_FIELDS,
    SERVICE_FIELDS,
    api_error,
    mask_services,
    restore_masked_secrets,
    service_content,
)
from .selectors import service_type_list
from .service_types import ServiceKind


def services_export() -> dict[str, Any]:
    return {
        service.name: service_content(service, list(service.instances.all()))
        for service in service_type_list()
    }


def services_default() -> dict[str, Any]:
    """A fresh installation: every service type, random balancing, default breaker, no instances."""
    return {kind.value: service_content(ServiceType(name=kind.value), []) for kind in ServiceKind}


def _model_fields(content: dict[str, Any], table: dict[str, str], where: str) -> dict[str, Any]:
    if not isinstance(content, dict):
        raise ValidationError({where: ["Must be an object."]})
    unknown = sorted(set(content) - set(table) - {"instances", "instanceId"})
    if unknown:
        raise ValidationError({f"{where}.{unknown[0]}": ["Unknown field."]})
    return {table[api]: value for api, value in content.items() if api in table}


def _stored_fields(
    model: type[Any], content: dict[str, Any], table: dict[str, str]
) -> dict[str, Any]:
    """The model fields of validated content; a field that a version written before it existed
    does not name takes its default."""
    return {
        field: content[api] if api in content else model._meta.get_field(field).get_default()
        for api, field in table.items()
    }


def services_validate(content: Any) -> dict[str, Any]:
    """Check a whole `services` section as full_clean would, without touching the database."""
    if not isinstance(content, dict):
        raise ValidationError({"services": ["Must be an object of service types."]})
    canonical: dict[str, Any] = {}
    for name, body in content.items():
        where = f"services.{name}"
        config_schema.service_type_name(name)
        service = ServiceType(name=name, **_model_fields(body, SERVICE_FIELDS, where))
        try:
            service.full_clean(validate_unique=False)
        except ValidationError as exc:
            raise api_error(exc, SERVICE_FIELDS, where) from None
        instances, seen = [], set()
        for index, item in enumerate(body.get("instances") or []):
            at = f"{where}.instances[{index}]"
            instance = ServiceInstance(
                service_type=service, **_model_fields(item, INSTANCE_FIELDS, at)
            )
            try:
                instance.full_clean(
                    exclude=["service_type"], validate_unique=False, validate_constraints=False
                )
            except ValidationError as exc:
                raise api_error(exc, INSTANCE_FIELDS, at) from None
            if instance.instance_id in seen:
                raise ValidationError({at: [f"Duplicate instance '{instance.instance_id}'."]})
            seen.add(instance.instance_id)
            instances.append(instance)
        canonical[name] = service_content(service, instances)
    return canonical


def services_load(content: dict[str, Any]) -> None:
    """Make the database hold exactly `content`. Instances are matched by (name, baseUrl), so the
    health they have observed survives an apply or rollback, and a masked secret (a file exported
    without `--include-secrets`) keeps the one stored."""
    ServiceType.objects.exclude(name__in=list(content)).delete()
    for name, body in content.items():
        service, _ = ServiceType.objects.update_or_create(
            name=name, defaults=_stored_fields(ServiceType, body, SERVICE_FIELDS)
        )
        wanted = {(i["name"], i["baseUrl"]): i for i in body.get("instances", [])}
        stored = {(i.name, i.base_url): i for i in service.instances.all()}
        for key, instance in stored.items():
            if key not in wanted:
                instance.delete()
        for (model, base_url), item in wanted.items():
            where = f"services.{name}.instances[{model}@{base_url}]"
            item = restore_masked_secrets(item, stored.get((model, base_url)), where)
            ServiceInstance.objects.update_or_create(
                service_type=service,
                name=model,
                base_url=base_url,
                defaults=_stored_fields(ServiceInstance, item, INSTANCE_FIELDS),
            )


SERVICES_SECTION = ConfigSection(
    key="services",
    export=services_export,
    load=services_load,
    default=services_default,
    validate=services_validate,
    mask=mask_services,
)


# The `router` section: the neural router's settings, under the reference router's field names.
ROUTER_FIELDS = (
    "model_path",
    "confidence_threshold",
    "max_uncertainty",
    "enable_circuit_breaker",
    "circuit_breaker_threshold",
    "enable_quantization",
    "target_powerful_share",
)


def router_settings_row() -> RouterSettings:
    return RouterSettings.objects.filter(pk=1).first() or RouterSettings(pk=1)


def router_content(settings_row: RouterSettings) -> dict[str, Any]:
    content = {field: getattr(settings_row, field) for field in ROUTER_FIELDS}
    # The reference keeps exemplars in its own file; here they live in the gateway's database.
    content["database_path"] = None
    return content


def router_export() -> dict[str, Any]:
    return router_content(router_settings_row())


def router_default() -> dict[str, Any]:
    return router_content(RouterSettings(pk=1))


def router_validate(content: Any) -> dict[str, Any]:
    if not isinstance(content, dict):
        raise ValidationError({"router": ["Must be an object."]})
    unknown = sorted(set(content) - set(ROUTER_FIELDS) - {"database_path"})
    if unknown:
        raise ValidationError({f"router.{unknown[0]}": ["Unknown field."]})
    if content.get("database_path") is not None:
        raise ValidationError(
            {"router.database_path": ["Exemplars live in the gateway's database; must be null."]}
        )
    row = RouterSettings(pk=1, **{f: content[f] for f in ROUTER_FIELDS if f in content})
    try:
        row.full_clean(validate_unique=False)
    except ValidationError as exc:
        raise ValidationError({f"router.{k}": v for k, v in exc.message_dict.items()}) from None
    return router_content(row)


def router_load(content: dict[str, Any]) -> None:
    # Versions written before a field existed take its default.
    defaults = router_default()
    RouterSettings.objects.update_or_create(
        pk=1, defaults={field: content.get(field, defaults[field]) for field in ROUTER_FIELDS}
    )


ROUTER_SECTION = ConfigSection(
    key="router",
    export=router_export,
    load=router_load,
    default=router_default,
    validate=router_validate,
    mask=lambda content: content,
)
