"""The request history over the management API: `/api/requests` (the recorded /v1 requests,
newest first, filtered) and `/api/usage` (their figures added up over a time range). Read by any
signed-in operator, as the monitoring endpoints are (the default `IsOperator`)."""

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from routerproject.envelope import envelope
from routerproject.pagination import PageSizePagination
from routerproject.schema import error_responses, responses

from .. import selectors
from ..models import RequestRecord
from . import request_serializers as s

TAG = ["requests"]
USAGE_DAYS = 30
RANGE = [
    OpenApiParameter("from", OpenApiTypes.DATETIME, description="ISO 8601, inclusive."),
    OpenApiParameter("to", OpenApiTypes.DATETIME, description="ISO 8601, exclusive."),
]


def _query(request: Request, serializer_class: type[s._RangeQuery]) -> dict[str, Any]:
    # An empty parameter (`?model=`, as a form sends it) is no filter.
    data = {name: value for name, value in request.query_params.items() if value != ""}
    query = serializer_class(data=data)
    query.is_valid(raise_exception=True)
    return query.validated_data


class RequestPagination(PageSizePagination):
    message = "Request history retrieved successfully"


class RequestViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    pagination_class = RequestPagination
    serializer_class = s.RequestRecordOutput
    queryset = RequestRecord.objects.none()
    lookup_url_kwarg = "requestId"
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> Any:
        query = _query(self.request, s.RequestListQuery)
        return selectors.request_list(
            request_id=query.get("requestId", ""),
            key=query.get("key", ""),
            model=query.get("model", ""),
            instance=query.get("instance", ""),
            status=query.get("status", ""),
            start=query.get("from"),
            end=query.get("to"),
        )

    @extend_schema(
        tags=TAG,
        summary="Recorded /v1 requests, newest first",
        parameters=[
            OpenApiParameter("requestId", OpenApiTypes.STR, description="Exact request id."),
            OpenApiParameter("key", OpenApiTypes.STR, description="API key id or name."),
            OpenApiParameter("model", OpenApiTypes.STR, description="Model asked for or served."),
            OpenApiParameter("instance", OpenApiTypes.STR, description="Instance id."),
            OpenApiParameter(
                "status", OpenApiTypes.STR, description="A status code (429) or class (5xx)."
            ),
            *RANGE,
        ],
        responses={200: s.RequestRecordOutput(many=True), **error_responses(400, 401, 403)},
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        tags=TAG,
        summary="One recorded /v1 request (the latest under that id)",
        parameters=[OpenApiParameter("requestId", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses=responses("RequestRecord", s.RequestRecordOutput(), errors=(404,)),
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        record = selectors.request_get(request_id=kwargs["requestId"])
        return envelope(s.RequestRecordOutput(record).data, message="Request retrieved")


class UsageView(APIView):
    @extend_schema(
        tags=TAG,
        summary="Requests, errors, tokens, spend and latency over a time range, grouped",
        parameters=[
            OpenApiParameter(
                "from",
                OpenApiTypes.DATETIME,
                description="ISO 8601, inclusive; default 30 days ago.",
            ),
            OpenApiParameter(
                "to", OpenApiTypes.DATETIME, description="ISO 8601, exclusive; default now."
            ),
            OpenApiParameter(
                "groupBy", OpenApiTypes.STR, enum=list(selectors.USAGE_GROUPS), default="day"
            ),
        ],
        responses=responses("Usage", s.UsageOutput(), errors=(400,)),
    )
    def get(self, request: Request) -> Response:
        query = _query(request, s.UsageQuery)
        end = query.get("to") or timezone.now()
        start = query.get("from") or end - timedelta(days=USAGE_DAYS)
        end = max(start, end)  # `from` alone, in the future: an empty range
        usage = selectors.request_usage(start=start, end=end, group_by=query["groupBy"])
        return envelope(s.UsageOutput(usage).data, message="Usage retrieved")
