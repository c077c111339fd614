"""Instance health as the monitoring system reads it: the ONE place it does.

From the ORM (`ServiceInstance.health_status`, written by the `routing.probe_instances` job together
with the data plane's `health:{instance_id}` bits), read at scrape time only, never on the /v1 hot
path.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceHealth:
    service_type: str
    instance_id: str
    status: str  # healthy, unhealthy, unknown


def instance_health() -> list[InstanceHealth]:
    from routing.models import ServiceInstance

    rows = ServiceInstance.objects.select_related("service_type").order_by(
        "service_type__name", "id"
    )
    return [
        InstanceHealth(row.service_type.name, row.instance_id, str(row.health_status))
        for row in rows
    ]
