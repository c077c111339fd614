"""Where instances may point (the SSRF guard on `baseUrl`) and the browser security headers."""

import ipaddress

from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_list

# An instance's baseUrl is refused (field error, whatever the door: API, dashboard, admin, file)
# when its host is, or resolves to, an address in one of these networks, or is one of these names.
# The defaults are link-local (where clouds serve instance metadata and credentials) and the
# metadata endpoints by address and name.
INSTANCE_URL_DENIED_NETWORKS = env_list(
    "INSTANCE_URL_DENIED_NETWORKS",
    ["169.254.0.0/16", "fe80::/10", "169.254.169.254/32", "fd00:ec2::254/128"],
)
INSTANCE_URL_DENIED_HOSTS = env_list("INSTANCE_URL_DENIED_HOSTS", ["metadata.google.internal"])
# Local backends (Ollama on the same host, vLLM on the private network) are the common case: both
# allowed unless turned off.
INSTANCE_URL_ALLOW_LOOPBACK = env_bool("INSTANCE_URL_ALLOW_LOOPBACK", True)
INSTANCE_URL_ALLOW_PRIVATE = env_bool("INSTANCE_URL_ALLOW_PRIVATE", True)
for _network in INSTANCE_URL_DENIED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"INSTANCE_URL_DENIED_NETWORKS: {_network!r} is not a network (CIDR)"
        ) from None

# Sent by `routerproject.headers.SecurityHeadersMiddleware` on every page under these prefixes (the
# dashboard's templates and scripts need nothing inline and nothing from another origin).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
CONTENT_SECURITY_POLICY_PATHS = ["/dashboard/"]
# On every answer but /v1's: no page of the gateway needs these browser features.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
# Django's SecurityMiddleware sends these (X-Content-Type-Options, Referrer-Policy, COOP) and
# XFrameOptionsMiddleware X-Frame-Options; named here so that no mode loosens them by accident.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
