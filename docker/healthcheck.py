"""The image's HEALTHCHECK: exit 0 when this container's gateway answers `GET /health` with 200.

Standard library only, since it runs every few seconds. It asks for the first of ALLOWED_HOSTS as
the Host, so no extra host name has to be allowed for it (production answers 400 to any other).
"""

import os
import sys
import urllib.request


def host() -> str:
    first = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip()
    # ".example.com" allows example.com and its subdomains; "*" allows anything.
    first = first.lstrip(".")
    return first if first and first != "*" else "localhost"


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8080')}/health"
    request = urllib.request.Request(url, headers={"Host": host()})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - fixed local URL
            return 0 if response.status == 200 else 1
    except OSError as exc:  # refused, timed out, or an HTTP error status
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
