"""The OpenAI-compatible family: the client's bytes go upstream unchanged, the answer comes back
unchanged. Members differ only in where they serve each route and how they take the credential."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from routing.snapshot import InstanceSpec

from ..endpoints import Endpoint
from .base import UpstreamRequest, join_url, upstream_headers


@dataclass(frozen=True, slots=True)
class OpenAICompatible:
    prefix: str = "/v1"
    # Routes served outside the prefix, as full paths.
    paths: Mapping[str, str] = field(default_factory=dict)
    auth_header: str = "authorization"
    auth_scheme: str = "Bearer "

    def url(self, instance: InstanceSpec, endpoint: Endpoint) -> str:
        if instance.path and endpoint.is_primary:
            return instance.base_url.rstrip("/") + instance.path
        special = self.paths.get(endpoint.route)
        if special is not None:
            return instance.base_url.rstrip("/") + special
        return join_url(instance.base_url, self.prefix, "/" + endpoint.route)

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
            method="POST",
            url=self.url(instance, endpoint),
            headers=upstream_headers(
                instance, headers, auth_header=self.auth_header, auth_scheme=self.auth_scheme
            ),
            content=body,
        )


OPENAI = OpenAICompatible()
VLLM = OpenAICompatible()
XINFERENCE = OpenAICompatible()
# LocalAI reads its key from `x-api-key` as well as from a bearer token; the bearer form is the one
# every LocalAI release accepts, so it is sent like OpenAI's.
LOCALAI = OpenAICompatible()
# GPUStack serves the OpenAI API under /v1-openai; its rerank lives under its own /v1.
GPUSTACK = OpenAICompatible(prefix="/v1-openai", paths={"rerank": "/v1/rerank"})
# Gemini's OpenAI-compatible endpoint is its base URL itself (`…/v1beta/openai`), without /v1.
GEMINI = OpenAICompatible(prefix="")
