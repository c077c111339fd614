"""Configuration version endpoints at the paths of the management API document."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from routerproject.envelope import envelope
from routerproject.schema import responses

from .. import selectors, services
from ..diff import snapshot_diff
from ..models import ConfigVersion


def version_detail(version: ConfigVersion, current: int | None) -> dict[str, Any]:
    return {
        "version": version.number,
        "operation": version.operation,
        "createdBy": version.created_by.get_username() if version.created_by else None,
        "createdAt": version.created_at,
        "current": version.number == current,
        "config": selectors.masked_snapshot(version.snapshot),
    }


class VersionDetailSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    operation = serializers.CharField()
    createdBy = serializers.CharField(allow_null=True)
    createdAt = serializers.DateTimeField()
    current = serializers.BooleanField()
    config = serializers.JSONField(help_text="The snapshot, secrets masked.")


class VersionListView(APIView):
    @extend_schema(
        summary="All configuration version numbers",
        operation_id="config_version_list",
        responses=responses("Versions", serializers.ListField(child=serializers.IntegerField())),
    )
    def get(self, request: Request) -> Response:
        numbers = list(selectors.version_list().values_list("number", flat=True))
        return envelope(numbers, message="Configuration version list retrieved successfully")


class CurrentVersionView(APIView):
    @extend_schema(
        summary="The live version number",
        responses=responses("CurrentVersion", serializers.IntegerField()),
    )
    def get(self, request: Request) -> Response:
        return envelope(
            selectors.current_version_number(),
            message="Current configuration version retrieved successfully",
        )


class VersionDetailView(APIView):
    @extend_schema(
        summary="One version's snapshot", responses=responses("Version", VersionDetailSerializer())
    )
    def get(self, request: Request, version: int) -> Response:
        found = selectors.version_get(number=version)
        return envelope(
            version_detail(found, selectors.current_version_number()),
            message="Configuration version retrieved successfully",
        )

    @extend_schema(
        summary="Delete a version (not the current one)",
        responses=responses("VersionDeleted", errors=(404, 409)),
    )
    def delete(self, request: Request, version: int) -> Response:
        services.version_delete(number=version)
        return envelope(None, message=f"Configuration version {version} deleted")


class VersionApplyView(APIView):
    @extend_schema(
        summary="Make a version live", request=None, responses=responses("VersionApplied")
    )
    def post(self, request: Request, version: int) -> Response:
        applied = services.version_apply(number=version, actor=request.user)
        return envelope(
            {"version": applied.number}, message=f"Configuration version {version} applied"
        )


class VersionRollbackView(APIView):
    @extend_schema(
        summary="Write a new version equal to an older one and make it live",
        request=None,
        responses=responses("VersionRolledBack"),
    )
    def post(self, request: Request, version: int) -> Response:
        change = services.version_rollback(number=version, actor=request.user)
        if change.version is None:
            return envelope(
                {"version": selectors.current_version_number(), "rolledBackTo": version},
                message=f"Version {version} is already the live configuration",
            )
        return envelope(
            {"version": change.version.number, "rolledBackTo": version},
            message=f"Rolled back to version {version} as version {change.version.number}",
        )


class VersionDiffView(APIView):
    @extend_schema(
        summary="What changed from version a to version b",
        responses=responses(
            "VersionDiff", serializers.JSONField(help_text="{from, to, added, removed, changed}")
        ),
    )
    def get(self, request: Request, version: int, other: int) -> Response:
        old = selectors.masked_snapshot(selectors.version_get(number=version).snapshot)
        new = selectors.masked_snapshot(selectors.version_get(number=other).snapshot)
        return envelope(
            {"from": version, "to": other, **snapshot_diff(old, new)}, message="Difference computed"
        )
