"""Health probes of instances: one HTTP GET each, all at once, each bounded by its own timeout.

An instance is probed at its adapter's model-list route (`GET /v1/models` for the OpenAI family,
`/v1-openai/models` for GPUStack, `/api/tags` for Ollama, `/openai/models` for Azure, the base
URL's `/models` for Gemini) with its
credential, sent as its adapter sends it, and its headers. It is
healthy when it answers below 500 (it is up and speaking HTTP; a 401 is a configuration matter the
requests themselves will show), unhealthy on a 5xx, a connection failure or no answer in time.
No ORM here: `routing.tasks.probe_instances` reads the instances and records the results.
Probes go through the data plane's client, so through the same connect-time destination policy
(`routing.destinations`): no redirects, no proxy from the environment.
"""

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from django.conf import settings

from routing.dataplane.adapters.anthropic import ANTHROPIC_VERSION
from routing.dataplane.adapters.base import join_url
from routing.dataplane.client import UpstreamError, send_upstream
from routing.service_types import Adapter


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    key: int  # the instance's primary key
    instance_id: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)


def probe_url(adapter: str, base_url: str) -> str:
    if adapter == Adapter.OLLAMA:
        return base_url.rstrip("/") + "/api/tags"
    if adapter == Adapter.GPUSTACK:
        return join_url(base_url, "/v1-openai", "/models")
    if adapter == Adapter.GEMINI:
        return base_url.rstrip("/") + "/models"
    if adapter == Adapter.AZURE:
        version = quote(settings.AZURE_OPENAI_API_VERSION, safe="")
        return f"{base_url.rstrip('/')}/openai/models?api-version={version}"
    return join_url(base_url, "/v1", "/models")


# How each adapter sends the instance's credential (`adapters/`), for the probe to send it alike.
_CREDENTIAL_HEADERS: dict[str, tuple[str, str]] = {
    Adapter.ANTHROPIC: ("x-api-key", ""),
    Adapter.AZURE: ("api-key", ""),
}


def probe_headers(
    api_key: str, headers: Mapping[str, str] | None, adapter: str = Adapter.OPENAI
) -> dict[str, str]:
    name, scheme = _CREDENTIAL_HEADERS.get(adapter, ("authorization", "Bearer "))
    sent = {name: scheme + api_key} if api_key else {}
    if adapter == Adapter.ANTHROPIC:
        sent["anthropic-version"] = ANTHROPIC_VERSION
    sent.update({name.lower(): value for name, value in (headers or {}).items()})
    return sent


async def probe(target: ProbeTarget, limit_s: float) -> bool:
    try:
        # wait_for bounds the whole exchange, not only each network step.
        response = await asyncio.wait_for(
            send_upstream(
                "GET",
                target.url,
                headers=target.headers,
                content=b"",
                connect_timeout_s=limit_s,
                request_timeout_s=limit_s,
            ),
            limit_s,
        )
    except (UpstreamError, TimeoutError):
        return False
    await response.aclose()
    return response.status_code < 500


async def probe_all(
    targets: Iterable[ProbeTarget], *, limit_s: float, concurrency: int = 50
) -> dict[int, bool]:
    """{instance key: healthy}. Probes run concurrently: a slow instance delays no other."""
    targets = list(targets)
    gate = asyncio.Semaphore(concurrency)

    async def one(target: ProbeTarget) -> bool:
        async with gate:
            return await probe(target, limit_s)

    results = await asyncio.gather(*(one(t) for t in targets))
    return {target.key: healthy for target, healthy in zip(targets, results, strict=True)}
