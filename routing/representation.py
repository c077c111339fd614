"""Service types and instances as the API and the snapshots write them (camelCase JSON)."""

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from routerproject.masking import is_masked, mask_secret

from .config_schema import SECRET_HEADER
from .models import ServiceInstance, ServiceType

# API name -> model field. One table, used by the serializers, the snapshot and the loader.
SERVICE_FIELDS = {
    "loadBalancer": "load_balancer",
    "rateLimit": "rate_limit",
    "circuitBreaker": "circuit_breaker",
    "fallback": "fallback",
    "retries": "retries",
    "connectTimeout": "connect_timeout_ms",
    "requestTimeout": "request_timeout_ms",
    "aliases": "aliases",
}
INSTANCE_FIELDS = {
    "name": "name",
    "baseUrl": "base_url",
    "apiKey": "api_key",
    "weight": "weight",
    "enabled": "enabled",
    "adapter": "adapter",
    "path": "path",
    "upstreamModel": "upstream_model",
    "responsesApi": "responses_api",
    "inputCostPerMillionTokens": "input_cost_per_million",
    "outputCostPerMillionTokens": "output_cost_per_million",
    "headers": "headers",
    "tier": "tier",
    "rateLimit": "rate_limit",
    "circuitBreaker": "circuit_breaker",
}


def api_error(exc: ValidationError, table: dict[str, str], prefix: str = "") -> ValidationError:
    """A model's ValidationError keyed by the API's names: `base_url` -> `baseUrl`, and an error
    about a part of a field (see `models._clean_into`) -> `rateLimit.capacity`."""
    to_api = {field: api for api, field in table.items()}
    renamed: dict[str, list[str]] = {}
    for field, errors in exc.error_dict.items():
        name = "nonFieldErrors" if field == NON_FIELD_ERRORS else to_api.get(field, field)
        for error in errors:
            params = error.params or {}
            key = f"{name}.{params['part']}" if "part" in params else name
            message = params["detail"] if "part" in params else next(iter(error))
            renamed.setdefault(f"{prefix}.{key}" if prefix else key, []).append(str(message))
    return ValidationError(renamed)


def instance_content(instance: ServiceInstance) -> dict[str, Any]:
    content: dict[str, Any] = {"instanceId": instance.instance_id}
    content.update({api: getattr(instance, field) for api, field in INSTANCE_FIELDS.items()})
    return content


def service_content(service: ServiceType, instances: list[ServiceInstance]) -> dict[str, Any]:
    content = {api: getattr(service, field) for api, field in SERVICE_FIELDS.items()}
    ordered = sorted(instances, key=lambda i: (i.name, i.base_url))
    content["instances"] = [instance_content(i) for i in ordered]
    return content


def mask_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: mask_secret(v) if SECRET_HEADER.search(k) else v for k, v in headers.items()}


def mask_instance(content: dict[str, Any]) -> dict[str, Any]:
    return {
        **content,
        "apiKey": mask_secret(content.get("apiKey")),
        "headers": mask_headers(content.get("headers") or {}),
    }


def restore_masked_secrets(
    content: dict[str, Any], stored: ServiceInstance | None, where: str
) -> dict[str, Any]:
    """An instance from a file exported with masked secrets: each masked value (`apiKey`, a
    secret-looking header) stands for the secret the same instance (name, baseUrl) holds already.
    Without one to keep, the value is refused rather than stored as a key."""
    restored = dict(content)
    missing = "A masked value (as exported) and no stored secret to keep: give the secret itself."
    if is_masked(content.get("apiKey")):
        if stored is None or not stored.api_key:
            raise ValidationError({f"{where}.apiKey": [missing]})
        restored["apiKey"] = stored.api_key
    headers = dict(content.get("headers") or {})
    for name, value in headers.items():
        if SECRET_HEADER.search(name) and is_masked(value):
            kept = (stored.headers or {}).get(name) if stored is not None else None
            if kept is None:
                raise ValidationError({f"{where}.headers.{name}": [missing]})
            headers[name] = kept
    restored["headers"] = headers
    return restored


def mask_services(content: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {**service, "instances": [mask_instance(i) for i in service.get("instances", [])]}
        for name, service in content.items()
    }


def instance_info(instance: ServiceInstance) -> dict[str, Any]:
    return {
        **mask_instance(instance_content(instance)),
        "healthStatus": instance.health_status,
        "lastHealthCheck": instance.last_health_check,
    }
