"""Where an instance's `baseUrl` may point: the guard against server-side request forgery.

Whoever can configure an instance makes the gateway (and its health probes) send requests, with
the instance's credentials, to that URL. The policy (settings `INSTANCE_URL_*`) refuses denied
networks (by default link-local, where clouds serve instance metadata and credentials) and denied
host names, and optionally loopback and private addresses. A host name is resolved when the URL is
validated and every address it resolves to is checked, which also catches numeric spellings such
as `http://2852039166/` (169.254.169.254). A name that does not resolve then (a backend not up yet)
is accepted on its name alone. A name that resolves differently later (DNS rebinding) is caught
when the data plane connects: `GuardedResolver` applies the same policy to every address the name
resolves to at that moment, and the connection fails (502) if none is allowed. Literal addresses
never reach a resolver: `GuardedResolver.check_literal` applies the policy to them before each
connection. The data plane and the health probes share that one client (`dataplane/client.py`), so
the guard covers every connection to an instance. IPv6 addresses that carry an IPv4 address
(IPv4-mapped or -compatible, NAT64, 6to4, Teredo) are judged by the IPv4 address.
"""

import concurrent.futures
import functools
import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

RESOLVE_TIMEOUT_S = 2.0
_resolver_pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="resolve")


class Unresolvable(Exception):
    pass


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to; Unresolvable when it does not, or not quickly."""

    def lookup() -> list[str]:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [str(info[4][0]) for info in infos]

    try:
        return _resolver_pool.submit(lookup).result(timeout=RESOLVE_TIMEOUT_S)
    except (OSError, UnicodeError, concurrent.futures.TimeoutError):
        raise Unresolvable(host) from None


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    denied_networks: tuple[IPNetwork, ...]
    denied_hosts: frozenset[str]
    allow_loopback: bool = True
    allow_private: bool = True

    @classmethod
    def from_settings(cls) -> "DestinationPolicy":
        return cls(
            denied_networks=tuple(
                ipaddress.ip_network(n, strict=False) for n in settings.INSTANCE_URL_DENIED_NETWORKS
            ),
            denied_hosts=frozenset(_host_name(h) for h in settings.INSTANCE_URL_DENIED_HOSTS),
            allow_loopback=settings.INSTANCE_URL_ALLOW_LOOPBACK,
            allow_private=settings.INSTANCE_URL_ALLOW_PRIVATE,
        )

    def address_refusal(self, address: IPAddress) -> str | None:
        """Why no instance may point at `address` ("is in …"), or None. An IPv6 address that
        carries an IPv4 one is judged by the IPv4 address, where its packets end up."""
        embedded = embedded_ipv4(address)
        if embedded is None:
            return self._refusal(address)
        reason = self._refusal(embedded)
        return f"embeds {embedded}, which {reason}" if reason else None

    def _refusal(self, address: IPAddress) -> str | None:
        for network in self.denied_networks:
            if address.version == network.version and address in network:
                return f"is in the denied network {network}"
        loopback = address.is_loopback or address.is_unspecified
        if loopback and not self.allow_loopback:
            return "is a loopback address, which this gateway does not allow"
        if not loopback and not address.is_global and not self.allow_private:
            return "is a private address, which this gateway does not allow"
        return None


_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# RFC 6052's well-known prefix and RFC 8215's local-use one (in its /96 form).
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
    (::a.b.c.d), NAT64, 6to4 (2002::/16) or a Teredo client; None for anything else. Each reaches
    the IPv4 address through the host's stack or a translator on the way."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in prefix for prefix in _NAT64):
        return low32
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 keep their IPv6 meaning
        return low32
    return None


def _host_name(host: str) -> str:
    return host.strip().lower().rstrip(".")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def refusal(
    host: str, port: int, policy: DestinationPolicy, resolver: Resolver = resolve
) -> str | None:
    """Why an instance may not point at host:port, or None when it may."""
    name = _host_name(host)
    if name in policy.denied_hosts:
        return f"{name} is a denied host"
    literal = _literal(name)
    if literal is not None:
        reason = policy.address_refusal(literal)
        return f"{literal} {reason}" if reason else None
    try:
        addresses: Iterable[str] = resolver(name, port)
    except Unresolvable:
        return None
    for text in addresses:
        address = _literal(text)
        reason = policy.address_refusal(address) if address is not None else None
        if reason is not None:
            return f"{name} resolves to {address}, which {reason}"
    return None


@functools.lru_cache(maxsize=1024)
def _literal_refusal(host: str, policy: DestinationPolicy) -> str | None:
    literal = _literal(host.split("%", 1)[0])
    return policy.address_refusal(literal) if literal is not None else None


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the addresses the destination policy allows."""

    def __init__(self, policy: DestinationPolicy | None = None) -> None:
        self.policy = policy or DestinationPolicy.from_settings()
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if _host_name(host) in self.policy.denied_hosts:
            raise OSError(f"{host} is a denied host")
        results = await self._inner.resolve(host, port, family)
        allowed = []
        for result in results:
            address = _literal(result["host"].split("%", 1)[0])  # an IPv6 scope id is not checked
            if address is not None and self.policy.address_refusal(address) is None:
                allowed.append(result)
        if not allowed:
            raise OSError(f"{host} resolves only to addresses instances may not point at")
        return allowed

    def check_literal(self, host: str) -> None:
        """OSError when `host` is an address the policy refuses. aiohttp connects to a literal
        address without asking the resolver; it was checked when saved, but the policy may have
        changed since (or refused less when it was saved)."""
        reason = _literal_refusal(host, self.policy)
        if reason is not None:
            raise OSError(f"{host} {reason}")

    async def close(self) -> None:
        await self._inner.close()
