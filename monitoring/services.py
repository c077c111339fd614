"""Writes of the monitoring app: settings (versioned), error stats and degradation (shared state),
the request history's rows and their retention."""

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from configversions.services import Actor, config_change
from routerproject.exceptions import InvalidInput

from .models import MonitoringSettings, RequestRecord
from .selectors import monitoring_settings
from .settings_schema import FIELDS, validate_monitoring

if TYPE_CHECKING:
    from .request_history import RequestRow


def monitoring_settings_update(*, actor: Actor, **changes: Any) -> list[str]:
    """Change some monitoring settings (camelCase keys); returns the fields whose value changed.
    A change records a configuration version and reaches every worker through the generation."""
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise InvalidInput(errors={unknown[0]: ["Unknown field."]})
    with config_change(actor=actor, operation="update monitoring settings"):
        current = monitoring_settings()
        try:
            # Nested objects (sampling, performance) may be sent in part.
            merged = {
                **current,
                **{
                    key: {**current[key], **value}
                    if isinstance(value, dict) and key in ("sampling", "performance")
                    else value
                    for key, value in changes.items()
                },
            }
            canonical = validate_monitoring(merged)
        except ValidationError as exc:
            raise InvalidInput(errors=exc.message_dict) from None
        updated = [key for key in changes if canonical[key] != current[key]]
        MonitoringSettings.objects.update_or_create(pk=1, defaults={"content": canonical})
    return updated


# Past these a figure does not fit its column (a cost over 10^10 USD is not a price).
_MAX_SMALL = 32_767
_MAX_TOKENS = 2_147_483_647
_MAX_COST = Decimal("9999999999")
_COST_PLACES = Decimal("0.00000001")


def _text(value: str, field: str) -> str:
    return value[: RequestRecord._meta.get_field(field).max_length]  # type: ignore[union-attr]


def _cost(value: float | None) -> Decimal | None:
    if value is None or not math.isfinite(value):
        return None
    try:
        cost = Decimal(repr(value)).quantize(_COST_PLACES)
    except InvalidOperation:
        return None
    return cost if 0 <= cost <= _MAX_COST else None


def _values(row: "RequestRow") -> dict[str, Any]:
    return dict(
        request_id=_text(row.request_id, "request_id"),
        received_at=datetime.fromtimestamp(row.received_at, tz=UTC),
        key_id=_text(row.key_id, "key_id"),
        key_name=_text(row.key_name, "key_name"),
        service_type=_text(row.service_type, "service_type"),
        model=_text(row.model, "model"),
        served_model=_text(row.served_model, "served_model"),
        instance_id=_text(row.instance_id, "instance_id"),
        tier=_text(row.tier, "tier"),
        status=min(max(row.status, 0), _MAX_SMALL),
        latency_ms=row.latency_ms,
        overhead_ms=row.overhead_ms,
        first_byte_ms=row.first_byte_ms,
        prompt_tokens=min(max(row.prompt_tokens, 0), _MAX_TOKENS),
        completion_tokens=min(max(row.completion_tokens, 0), _MAX_TOKENS),
        usage_estimated=row.usage_estimated,
        cost=_cost(row.cost),
        retries=min(max(row.retries, 0), _MAX_SMALL),
        fallback_model=_text(row.fallback_model, "fallback_model"),
        error=_text(row.error, "error"),
    )


def request_records_write(*, rows: Sequence["RequestRow"]) -> int:
    """Store finished requests of the history's buffer (one statement run over every row, in one
    transaction); returns how many. Figures are made to fit their columns: a row the gateway saw
    is never refused. The rows go to the database as parameters, not as model instances: building
    one `RequestRecord` a row (what `bulk_create` does) cost about 100 µs of the worker's CPU per
    request, more than the rest of the request's work in the gateway."""
    if not rows:
        return 0
    columns = [field for field in RequestRecord._meta.concrete_fields if not field.primary_key]
    ops = connection.ops
    # Only the model's own table and column names, quoted, are written into the statement.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        ops.quote_name(RequestRecord._meta.db_table),
        ", ".join(ops.quote_name(str(field.column)) for field in columns),
        ", ".join(["%s"] * len(columns)),
    )
    names = [field.attname for field in columns]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, [_parameters(row, names) for row in rows])
    return len(rows)


def _parameters(row: "RequestRow", names: list[str]) -> list[Any]:
    values = _values(row)
    received = values["received_at"]
    values["received_at"] = connection.ops.adapt_datetimefield_value(received)
    cost = values["cost"]
    values["cost"] = None if cost is None else connection.ops.adapt_decimalfield_value(cost, 18, 8)
    return [values[name] for name in names]


def request_records_delete_expired(
    *,
    retention_days: int,
    batch_size: int = 5000,
    max_batches: int = 200,
    now: datetime | None = None,
) -> int:
    """Delete records older than `retention_days` (0: none), at most `batch_size` rows a
    statement so no statement holds the table long, and at most `max_batches` of them a run (the
    next run goes on). Idempotent: a second run finds nothing more. Returns the rows deleted."""
    if retention_days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=retention_days)
    deleted = 0
    for _ in range(max_batches):
        ids = list(
            RequestRecord.objects.filter(received_at__lt=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            break
        deleted += RequestRecord.objects.filter(id__in=ids).delete()[0]
    return deleted
