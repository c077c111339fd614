"""Reads of the monitoring app: its settings, the request history and its usage figures."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, DecimalField, F, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, NullIf, TruncDate

from routerproject.exceptions import InvalidInput, NotFound

from .models import MonitoringSettings, RequestRecord
from .settings_schema import default_content


def monitoring_settings_row() -> MonitoringSettings:
    return MonitoringSettings.objects.filter(pk=1).first() or MonitoringSettings(
        pk=1, content=default_content()
    )


def monitoring_settings() -> dict[str, Any]:
    """The stored settings in canonical form (missing fields take their defaults)."""
    return {**default_content(), **monitoring_settings_row().content}


# The request history


STATUS_CLASSES = {"1xx": 100, "2xx": 200, "3xx": 300, "4xx": 400, "5xx": 500}


def request_list(
    *,
    request_id: str = "",
    key: str = "",
    model: str = "",
    instance: str = "",
    status: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
) -> QuerySet[RequestRecord]:
    """Recorded /v1 requests, newest first. `key` is a key id or name, `model` the model asked for
    or served, `status` a code or a class (`4xx`); `start` inclusive, `end` exclusive."""
    records = RequestRecord.objects.order_by("-received_at", "-id")
    if request_id:
        records = records.filter(request_id=request_id)
    if key:
        records = records.filter(Q(key_id=key) | Q(key_name=key))
    if model:
        records = records.filter(Q(model=model) | Q(served_model=model))
    if instance:
        records = records.filter(instance_id=instance)
    if status in STATUS_CLASSES:
        low = STATUS_CLASSES[status]
        records = records.filter(status__gte=low, status__lt=low + 100)
    elif status:
        records = records.filter(status=int(status))
    if start is not None:
        records = records.filter(received_at__gte=start)
    if end is not None:
        records = records.filter(received_at__lt=end)
    return records


def request_get(*, request_id: str) -> RequestRecord:
    """The latest request recorded under this id (clients may send the same id twice)."""
    record = request_list(request_id=request_id).first()
    if record is None:
        raise NotFound(f"Request '{request_id}' is not in the history")
    return record


USAGE_GROUPS = ("day", "key", "model")


def _figures() -> dict[str, Any]:
    return {
        "requests": Count("id"),
        "errors": Count("id", filter=Q(status__gte=400)),
        "prompt_tokens": Coalesce(Sum("prompt_tokens"), 0),
        "completion_tokens": Coalesce(Sum("completion_tokens"), 0),
        "cost": Coalesce(Sum("cost"), Value(Decimal(0)), output_field=DecimalField()),
        "latency_ms": Avg("latency_ms"),
    }


def request_usage(*, start: datetime, end: datetime, group_by: str) -> dict[str, Any]:
    """Requests, errors (status 400 and above), tokens, spend (known costs) and mean latency over
    [start, end), in total and per day (UTC), per API key or per model (the one served, else the
    one asked for), added up by the database. Groups: days in order, keys and models by traffic."""
    records = RequestRecord.objects.filter(received_at__gte=start, received_at__lt=end)
    totals = records.aggregate(**_figures())
    if group_by == "day":
        groups = (
            records.annotate(group=TruncDate("received_at"))
            .values("group")
            .annotate(**_figures())
            .order_by("group")
        )
    elif group_by == "key":
        groups = (
            records.annotate(group=F("key_id"))
            .values("group")
            .annotate(name=Max("key_name"), **_figures())
            .order_by(F("requests").desc(), "group")
        )
    elif group_by == "model":
        groups = (
            records.annotate(group=Coalesce(NullIf("served_model", Value("")), "model"))
            .values("group")
            .annotate(**_figures())
            .order_by(F("requests").desc(), "group")
        )
    else:
        raise InvalidInput(errors={"groupBy": [f"Must be one of {', '.join(USAGE_GROUPS)}."]})
    return {"start": start, "end": end, "group_by": group_by, "totals": totals, "groups": groups}
