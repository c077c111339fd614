"""Azure OpenAI's paths: `/openai/deployments/{deployment}/{route}?api-version=...`.

Azure names the deployment in the path and answers 404 "Resource not found" to a request without an
`api-version` query parameter or to a route it does not serve.
"""

import re
from urllib.parse import parse_qs

NOT_FOUND = {"error": {"code": "404", "message": "Resource not found"}}
ROUTES = frozenset(
    {
        "/chat/completions",
        "/completions",
        "/embeddings",
        "/audio/speech",
        "/audio/transcriptions",
        "/audio/translations",
        "/moderations",
        "/images/generations",
        "/images/edits",
    }
)
_PATH = re.compile(r"^/openai/deployments/([^/]+)(/.*)$")


def deployment_route(path: str) -> tuple[str, str] | None:
    """(deployment, OpenAI route) of an Azure deployment path, or None for any other path."""
    found = _PATH.match(path)
    return (found.group(1), found.group(2)) if found else None


def answerable(route: str, query: bytes) -> bool:
    """Whether Azure serves `route` with this query string (it must name an `api-version`)."""
    versions = parse_qs(query.decode("latin-1")).get("api-version")
    return route in ROUTES and bool(versions and versions[0])
