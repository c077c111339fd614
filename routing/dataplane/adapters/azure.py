"""Azure OpenAI (`azure` adapter): the OpenAI API under a deployment's path,
`{baseUrl}/openai/deployments/{deployment}/{route}?api-version=...`, with the credential in
`api-key`. The deployment is the instance's `upstreamModel` when it has one, else its model name;
the API version is AZURE_OPENAI_API_VERSION. An instance's explicit `path` replaces the deployment
path and is sent as written (with its own `?api-version=` if it needs another). Bodies and answers
are OpenAI's, passed through unchanged."""

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from django.conf import settings

from routing.snapshot import InstanceSpec

from ..endpoints import Endpoint
from .base import UpstreamRequest, upstream_headers


def deployment_url(instance: InstanceSpec, endpoint: Endpoint) -> str:
    base = instance.base_url.rstrip("/")
    if instance.path and endpoint.is_primary:
        return base + instance.path
    deployment = quote(instance.upstream_model or instance.name, safe="")
    version = quote(settings.AZURE_OPENAI_API_VERSION, safe="")
    return f"{base}/openai/deployments/{deployment}/{endpoint.route}?api-version={version}"


class Azure:
    def build(
        self,
        instance: InstanceSpec,
        endpoint: Endpoint,
        *,
        body: bytes,
        payload: dict[str, Any] | None,
        headers: Mapping[str, str],
    ) -> UpstreamRequest:
        return UpstreamRequest(
            "POST",
            deployment_url(instance, endpoint),
            upstream_headers(instance, headers, auth_header="api-key", auth_scheme=""),
            body,
        )


AZURE = Azure()
