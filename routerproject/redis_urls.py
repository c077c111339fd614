"""What a REDIS_URL names: one server, a Redis Cluster, or a primary followed through Sentinel.

- `redis://[user:password@]host:port/db`, `rediss://…` (TLS), `unix:///path.sock?db=N`: one server,
  as redis-py's `from_url` reads it.
- `redis+cluster://[user:password@]host:port[,host:port…]` (`rediss+cluster://` for TLS): a Redis
  Cluster, reached through any of the listed nodes (the others are discovered).
- `redis+sentinel://[user:password@]host:port[,host:port…]/primary[/db]` (`rediss+sentinel://`): the
  primary named `primary`, found through the listed Sentinels and followed through failovers. The
  credentials are the primary's; `?sentinel_password=…` gives the Sentinels' own.

Imports nothing of Django, so the settings can read it.
"""

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

STANDALONE, CLUSTER, SENTINEL = "standalone", "cluster", "sentinel"
_SCHEMES = {
    "redis": (STANDALONE, False),
    "rediss": (STANDALONE, True),
    "unix": (STANDALONE, False),
    "redis+cluster": (CLUSTER, False),
    "rediss+cluster": (CLUSTER, True),
    "redis+sentinel": (SENTINEL, False),
    "rediss+sentinel": (SENTINEL, True),
}
DEFAULT_PORTS = {CLUSTER: 6379, SENTINEL: 26379}


@dataclass(frozen=True)
class RedisTarget:
    kind: str
    nodes: tuple[tuple[str, int], ...] = ()  # cluster nodes or Sentinels
    primary: str = ""  # Sentinel: the monitored primary's name
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None
    tls: bool = False


def _node(text: str, kind: str, url: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, str(DEFAULT_PORTS[kind])
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"REDIS_URL {mask(url)!r}: {text!r} is not host:port")
    return host, int(port)


def parse(url: str) -> RedisTarget:
    """The target of `url`; ValueError (with the password masked) when it is not one."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in _SCHEMES:
        known = ", ".join(f"{s}://" for s in _SCHEMES)
        raise ValueError(f"REDIS_URL {mask(url)!r}: the scheme must be one of {known}")
    kind, tls = _SCHEMES[scheme]
    if kind == STANDALONE:
        return RedisTarget(kind, tls=tls)
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    nodes = tuple(_node(h, kind, url) for h in hosts.split(",") if h)
    if not nodes:
        raise ValueError(f"REDIS_URL {mask(url)!r}: no host:port given")
    path = [p for p in parts.path.split("/") if p]
    query = parse_qs(parts.query)
    primary, db = "", 0
    if kind == SENTINEL:
        if not path:
            raise ValueError(f"REDIS_URL {mask(url)!r}: the path must name the primary")
        primary = unquote(path.pop(0))
    if path:
        if kind == CLUSTER or len(path) > 1 or not path[0].isdigit():
            raise ValueError(f"REDIS_URL {mask(url)!r}: unexpected path {parts.path!r}")
        db = int(path[0])
    return RedisTarget(
        kind,
        nodes=nodes,
        primary=primary,
        db=db,
        username=unquote(username) or None,
        password=unquote(password) or None,
        sentinel_password=(query.get("sentinel_password") or [""])[0] or None,
        tls=tls,
    )


def mask(url: str) -> str:
    """The URL with its passwords replaced by `***`, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, tail = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:***@{hosts}"
    if "sentinel_password=" in tail:
        head, _, after = tail.partition("sentinel_password=")
        tail = (
            head + "sentinel_password=***" + ("&" + after.partition("&")[2] if "&" in after else "")
        )
    return f"{scheme}{sep}{netloc}{slash}{tail}"


def celery_urls(url: str) -> tuple[str, dict[str, object]] | None:
    """Celery's broker (and result backend) URL and transport options for `url`; None for a Redis
    Cluster, which Celery's Redis transport cannot use, and for Sentinel over TLS (then
    CELERY_BROKER_URL and CELERY_RESULT_BACKEND name them)."""
    target = parse(url)
    if target.kind == STANDALONE:
        return url, {}
    if target.kind == CLUSTER or target.tls:
        return None
    credentials = f":{target.password}@" if target.password else ""
    if target.username and target.password:
        credentials = f"{target.username}:{target.password}@"
    broker = ";".join(f"sentinel://{credentials}{h}:{p}/{target.db}" for h, p in target.nodes)
    options: dict[str, object] = {"master_name": target.primary}
    if target.sentinel_password:
        options["sentinel_kwargs"] = {"password": target.sentinel_password}
    return broker, options
