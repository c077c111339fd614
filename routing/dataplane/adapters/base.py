"""What an adapter turns a client request into, and the headers every adapter applies."""

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from routing.snapshot import InstanceSpec

from ..endpoints import Endpoint


class Translation(Protocol):
    """Turns an upstream answer in a foreign shape into OpenAI's; absent for pass-through adapters."""

    def status_body(self, status: int, body: bytes) -> bytes:
        """A complete (non-streamed, or error) answer."""
        ...

    def stream(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """A streamed answer, chunk by chunk as it arrives."""
        ...

    content_type: str  # of the translated non-streamed answer
    stream_content_type: str


@dataclass(slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str]
    content: bytes
    translation: Translation | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Adapter(Protocol):
    def build(
        self,
        instance: InstanceSpec,
        endpoint: Endpoint,
        *,
        body: bytes,
        payload: dict[str, Any] | None,
        headers: Mapping[str, str],
    ) -> UpstreamRequest:
        """`body` is the client's bytes, `payload` its parsed JSON (None for multipart), `headers`
        the client's headers already stripped of credentials and hop-by-hop headers."""
        ...


def upstream_headers(
    instance: InstanceSpec,
    forwarded: Mapping[str, str],
    *,
    auth_header: str = "authorization",
    auth_scheme: str = "Bearer ",
) -> dict[str, str]:
    """The client's forwarded headers, then the instance's credential, then its configured headers
    (which win: an operator can override anything, including the credential header)."""
    headers = dict(forwarded)
    if instance.api_key:
        headers[auth_header] = auth_scheme + instance.api_key
    for name, value in instance.headers.items():
        headers[name.lower()] = value
    return headers


def join_url(base_url: str, prefix: str, rest: str) -> str:
    """base + prefix + rest, without doubling a prefix the operator already put in the base URL
    (OpenAI-style base URLs end with /v1)."""
    base = base_url.rstrip("/")
    if prefix and base.endswith(prefix):
        return base + rest
    return base + prefix + rest
