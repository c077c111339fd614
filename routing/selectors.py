from django.db.models import Case, Count, IntegerField, Prefetch, QuerySet, Value, When

from routerproject.exceptions import InvalidInput, NotFound

from .models import RoutingExemplar, ServiceInstance, ServiceType
from .service_types import ServiceKind

# Service types list in the order the management API document gives them.
_KIND_ORDER = Case(
    *(When(name=kind.value, then=Value(i)) for i, kind in enumerate(ServiceKind)),
    output_field=IntegerField(),
)


def service_type_list() -> QuerySet[ServiceType]:
    instances = ServiceInstance.objects.order_by("name", "base_url")
    return (
        ServiceType.objects.prefetch_related(Prefetch("instances", queryset=instances))
        .annotate(kind_order=_KIND_ORDER)
        .order_by("kind_order")
    )


def service_type_get(*, name: str) -> ServiceType:
    # Only a ServiceKind can be configured; anything else (a NUL byte PostgreSQL refuses) is unknown.
    known = str(name) in ServiceKind.__members__.values()
    service = service_type_list().filter(name=name).first() if known else None
    if service is None:
        raise NotFound(f"Service type '{name}' is not configured")
    return service


def instance_list(*, service_type: str) -> list[ServiceInstance]:
    return list(service_type_get(name=service_type).instances.all())


def instance_get(*, service_type: str, name: str | None, base_url: str | None) -> ServiceInstance:
    missing = {
        field: ["This query parameter is required."]
        for field, value in (("modelName", name), ("baseUrl", base_url))
        if not value
    }
    if missing:
        raise InvalidInput(errors=missing)
    service = service_type_get(name=service_type)
    assert name is not None and base_url is not None
    instance = (
        ServiceInstance.objects.select_related("service_type")
        .filter(service_type=service, name=name, base_url=base_url.rstrip("/"))
        .first()
    )
    if instance is None:
        raise NotFound(f"Instance '{name}@{base_url}' does not exist in service '{service_type}'")
    return instance


def instance_get_by_id(*, service_type: str, instance_id: str) -> ServiceInstance:
    name, sep, base_url = instance_id.partition("@")
    if not sep:
        raise InvalidInput(errors={"instanceId": ["Must be 'name@baseUrl'."]})
    return instance_get(service_type=service_type, name=name, base_url=base_url)


def model_names(*, service_type: str | None = None) -> list[tuple[str, ServiceInstance]]:
    """(model, first enabled instance serving it), deduplicated per service type, in a stable order."""
    instances = ServiceInstance.objects.filter(enabled=True).select_related("service_type")
    if service_type is not None:
        instances = instances.filter(service_type=service_type_get(name=service_type))
    seen: dict[tuple[int, str], ServiceInstance] = {}
    for instance in instances.order_by("service_type_id", "name", "id"):
        seen.setdefault((instance.service_type_id, instance.name), instance)
    return [(name, instance) for (_, name), instance in seen.items()]


def instance_probe_list() -> list[ServiceInstance]:
    """Every enabled instance, for the health probes."""
    return list(ServiceInstance.objects.filter(enabled=True).order_by("id"))


def instance_service_types() -> dict[str, str]:
    """{instance id ("name@baseUrl"): service type name} of every instance, in a stable order."""
    rows = ServiceInstance.objects.select_related("service_type").order_by(
        "service_type_id", "name", "base_url"
    )
    return {row.instance_id: row.service_type.name for row in rows}


def exemplar_counts() -> list[tuple[str, int]]:
    """(service type, number of routing exemplars) for every service type that has any."""
    rows = (
        RoutingExemplar.objects.values_list("service_type__name")
        .annotate(count=Count("id"))
        .order_by("service_type__name")
    )
    return [(name, count) for name, count in rows]


def exemplar_recent(*, limit: int = 20) -> QuerySet[RoutingExemplar]:
    """The exemplars whose outcome statistics moved most recently."""
    return RoutingExemplar.objects.select_related("service_type").order_by("-updated_at", "-id")[
        :limit
    ]
