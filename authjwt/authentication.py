"""DRF authentication by JWT that refuses revoked tokens on every worker (see `blacklist`)."""

from typing import Any

from asgiref.sync import async_to_sync
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token

from . import blacklist
from .keys import (
    KEY_PREFIX,
    ApiKeyError,
    ApiKeyPrincipal,
    authenticate_api_key,
    extract_api_key,
)


class RevocableJWTAuthentication(JWTAuthentication):
    """`Authorization: Bearer <access token>`. Signature, expiry and type are simplejwt's checks; the
    revocation check is ours. API keys (`sk-…`) are for `/v1` only and are refused here like any bad
    token."""

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        token = self.get_validated_token(raw_token)
        if blacklist.is_revoked(str(token.get(jwt_settings.JTI_CLAIM, ""))):
            raise InvalidToken({"detail": "Token has been revoked", "code": "token_revoked"})
        return self.get_user(token), token


class RevocableJWTScheme(SimpleJWTScheme):
    """Describes the class above in the OpenAPI schema (a bearer JWT)."""

    target_class = "authjwt.authentication.RevocableJWTAuthentication"
    name = "jwtAuth"


class ApiKeyClient:
    """The caller of an endpoint meant for /v1 clients, identified by its API key (not a user)."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, principal: ApiKeyPrincipal) -> None:
        self.principal = principal

    def __str__(self) -> str:
        return f"API key {self.principal.prefix}…"


class ApiKeyAuthentication(BaseAuthentication):
    """For the few management endpoints applications call with their /v1 key (router feedback):
    `Authorization: Bearer sk-…` or `X-API-Key`. Other bearer tokens are left to the JWT class."""

    def authenticate(self, request: Request) -> tuple[ApiKeyClient, ApiKeyPrincipal] | None:
        raw_key = extract_api_key(request.headers)
        if raw_key is None or not raw_key.startswith(KEY_PREFIX):
            return None
        try:
            principal = async_to_sync(authenticate_api_key)(raw_key, service_type=None)
        except ApiKeyError as refusal:
            raise AuthenticationFailed(refusal.message) from None
        return ApiKeyClient(principal), principal

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "authjwt.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A /v1 API key (sk-…)."}
