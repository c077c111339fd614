"""Thin views of /api/auth: parse with an input serializer, call one service or selector, render."""

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from routerproject.envelope import envelope
from routerproject.exceptions import NotFound
from routerproject.pagination import PageSizePagination
from routerproject.schema import error_responses, responses

from .. import selectors, services
from ..models import ApiKey, IssuedToken
from ..throttles import RefreshRateThrottle, client_address
from . import serializers as s

MAX_USER_AGENT = 512


def _client(request: Request) -> dict[str, Any]:
    return {
        "device_info": request.META.get("HTTP_USER_AGENT", "")[:MAX_USER_AGENT],
        "ip_address": client_address(request) or None,
    }


def _pair_body(pair: services.IssuedPair) -> dict[str, Any]:
    return {
        "token": pair.access_token,
        "tokenType": "Bearer",
        "expiresIn": pair.expires_in,
        "refreshToken": pair.refresh_token,
        "tokenId": str(pair.access_record.pk),
    }


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{what} '{value}' does not exist") from None


def _credential_responses(name: str) -> dict[int, Any]:
    """Login and refresh: nobody is signed in yet; wrong credentials are 401, too many tries 429."""
    return responses(name, s.TokenPairOutput(), errors=(400, 401, 429), auth_errors=())


class TokenPagination(PageSizePagination):
    message = "Token list retrieved successfully"


class ApiKeyPagination(PageSizePagination):
    message = "API key list retrieved successfully"


class TokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    pagination_class = TokenPagination
    serializer_class = s.TokenOutput
    lookup_url_kwarg = "tokenId"
    lookup_value_regex = "[^/]+"
    queryset = IssuedToken.objects.none()

    def get_queryset(self) -> Any:
        query = s.TokenListQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.token_list(
            user_id=query.validated_data.get("userId") or None,
            status=query.validated_data.get("status"),
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("userId", OpenApiTypes.STR, description="Filter by user id"),
            OpenApiParameter("status", OpenApiTypes.STR, enum=["ACTIVE", "REVOKED", "EXPIRED"]),
        ],
        responses={200: s.TokenOutput(many=True), **error_responses(400, 401, 403)},
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        parameters=[OpenApiParameter("tokenId", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses=responses("TokenDetail", s.TokenDetailOutput(), errors=(404,)),
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        token = selectors.token_get(token_id=kwargs["tokenId"])
        return envelope(
            s.TokenDetailOutput(token).data, message="Token details retrieved successfully"
        )

    @extend_schema(
        parameters=[OpenApiParameter("tokenId", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        request=s.RevokeInput,
        responses=responses("TokenRevoked", s.RevokeOutput(), errors=(400, 404, 409)),
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, tokenId: str) -> Response:
        data = s.RevokeInput(data=request.data)
        data.is_valid(raise_exception=True)
        token = services.token_revoke(
            token_id=_uuid(tokenId, "Token"),
            reason=data.validated_data["reason"],
            actor=request.user,
        )
        body = {
            "tokenId": str(token.pk),
            "revokedAt": token.revoked_at,
            "reason": token.revoke_reason,
        }
        return envelope(s.RevokeOutput(body).data, message="Token revoked successfully")

    @extend_schema(
        request=s.RevokeBatchInput,
        responses=responses("TokensRevoked", s.RevokeBatchOutput(), errors=(400,)),
    )
    @action(detail=False, methods=["post"], url_path="revoke-batch")
    def revoke_batch(self, request: Request) -> Response:
        data = s.RevokeBatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.tokens_revoke_batch(
            token_ids=data.validated_data["tokenIds"],
            reason=data.validated_data["reason"],
            actor=request.user,
        )
        body = {
            "successCount": len(result.revoked),
            "failureCount": len(result.failed),
            "revokedTokens": result.revoked,
            "failedTokens": result.failed,
        }
        return envelope(s.RevokeBatchOutput(body).data, message="Batch revocation completed")


class CleanupView(APIView):
    @extend_schema(
        request=s.CleanupInput, responses=responses("Cleanup", s.CleanupOutput(), errors=(400,))
    )
    def post(self, request: Request) -> Response:
        data = s.CleanupInput(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.tokens_cleanup(cleanup_type=data.validated_data["cleanupType"])
        body = {
            "cleanupType": run.cleanup_type,
            "expiredTokensRemoved": run.expired_tokens_removed,
            "expiredBlacklistEntriesRemoved": run.expired_blacklist_entries_removed,
            "cleanupDuration": services.iso_duration(run.duration_seconds),
            "completedAt": run.completed_at,
        }
        return envelope(s.CleanupOutput(body).data, message="Cleanup completed successfully")


class BlacklistStatsView(APIView):
    @extend_schema(responses=responses("BlacklistStats", s.BlacklistStatsOutput(), errors=()))
    def get(self, request: Request) -> Response:
        return envelope(
            s.BlacklistStatsOutput(selectors.blacklist_stats()).data,
            message="Blacklist statistics retrieved successfully",
        )


class LoginView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    # The password throttle (authjwt.throttles) runs inside the service's `authenticate`.
    @extend_schema(request=s.LoginInput, responses=_credential_responses("Login"))
    def post(self, request: Request) -> Response:
        data = s.LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        pair = services.user_login(**data.validated_data, **_client(request))
        return envelope(s.TokenPairOutput(_pair_body(pair)).data, message="Login successful")


class RefreshView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [RefreshRateThrottle]

    @extend_schema(request=s.RefreshInput, responses=_credential_responses("Refresh"))
    def post(self, request: Request) -> Response:
        data = s.RefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        pair = services.token_refresh(
            refresh_token=data.validated_data["refreshToken"], **_client(request)
        )
        return envelope(
            s.TokenPairOutput(_pair_body(pair)).data, message="Token refreshed successfully"
        )


class LogoutView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=s.LogoutInput,
        responses=responses("Logout", s.LogoutOutput(), errors=(400,), auth_errors=(401,)),
    )
    def post(self, request: Request) -> Response:
        data = s.LogoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        jti = request.auth.get(jwt_settings.JTI_CLAIM) if hasattr(request.auth, "get") else None
        count = services.user_logout(
            user=request.user, jti=jti, all_sessions=data.validated_data["allSessions"]
        )
        return envelope(s.LogoutOutput({"revokedTokens": count}).data, message="Logged out")


class ValidateView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=s.ValidateInput,
        responses=responses("Validate", s.ValidateOutput(), errors=(400,), auth_errors=()),
    )
    def post(self, request: Request) -> Response:
        data = s.ValidateInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = selectors.token_validation(raw_token=data.validated_data["token"])
        token = result.token
        body = {
            "valid": result.valid,
            "reason": result.reason,
            "tokenId": str(token.pk) if token else None,
            "tokenType": result.token_type,
            "userId": str(token.user_id) if token else None,
            "username": token.user.get_username() if token else None,
            "expiresAt": token.expires_at if token else None,
            "status": selectors.effective_status(token) if token else None,
        }
        message = "Token is valid" if result.valid else "Token is not valid"
        return envelope(s.ValidateOutput(body).data, message=message)


class ApiKeyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    pagination_class = ApiKeyPagination
    serializer_class = s.ApiKeyOutput
    lookup_url_kwarg = "apiKeyId"
    lookup_value_regex = "[^/]+"
    queryset = ApiKey.objects.none()

    def get_queryset(self) -> Any:
        return selectors.api_key_list()

    @extend_schema(responses={200: s.ApiKeyOutput(many=True), **error_responses(400, 401, 403)})
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        parameters=[OpenApiParameter("apiKeyId", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses=responses("ApiKeyDetail", s.ApiKeyOutput(), errors=(404,)),
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        api_key = selectors.api_key_get(api_key_id=kwargs["apiKeyId"])
        return envelope(s.ApiKeyOutput(api_key).data, message="API key retrieved successfully")

    @extend_schema(
        request=s.ApiKeyCreateInput,
        responses=responses("ApiKeyCreated", s.ApiKeyCreatedOutput(), status=201, errors=(400,)),
    )
    def create(self, request: Request) -> Response:
        data = s.ApiKeyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        api_key, raw_key = services.api_key_create(
            name=values["name"],
            allowed_service_types=values["allowedServiceTypes"],
            expires_at=values["expiresAt"],
            requests_per_minute=values["requestsPerMinute"],
            actor=request.user,
            **data.governance(),
        )
        output = s.ApiKeyCreatedOutput(api_key, context={"raw_key": raw_key})
        return envelope(
            output.data,
            message="API key created: store it now, it is not shown again",
            status=201,
        )

    @extend_schema(
        parameters=[OpenApiParameter("apiKeyId", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        request=s.ApiKeyUpdateInput,
        responses=responses("ApiKeyUpdated", s.ApiKeyOutput(), errors=(400, 404, 409)),
    )
    def partial_update(self, request: Request, apiKeyId: str) -> Response:
        data = s.ApiKeyUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        api_key = services.api_key_update(
            api_key_id=_uuid(apiKeyId, "API key"), changes=data.changes()
        )
        return envelope(s.ApiKeyOutput(api_key).data, message="API key updated successfully")

    @extend_schema(
        parameters=[OpenApiParameter("apiKeyId", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        request=None,
        responses=responses("ApiKeyRevoked", s.ApiKeyOutput(), errors=(404, 409)),
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, apiKeyId: str) -> Response:
        api_key = services.api_key_revoke(api_key_id=_uuid(apiKeyId, "API key"), actor=request.user)
        return envelope(s.ApiKeyOutput(api_key).data, message="API key revoked successfully")
