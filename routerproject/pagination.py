"""Page-numbered lists in the seed's shape: {content, totalElements, totalPages, size, number}.

`page` counts from 0 and `size` defaults to 20, as in the seed's JWT token list.
"""

import math
from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from .envelope import envelope
from .exceptions import InvalidInput

MAX_PAGE_SIZE = 200
MAX_PAGE = 10_000_000


def _query_int(request: Request, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(errors={name: ["Must be an integer."]}) from None
    if not minimum <= value <= maximum:
        raise InvalidInput(errors={name: [f"Must be between {minimum} and {maximum}."]})
    return value


class PageSizePagination(BasePagination):
    page_query_param = "page"
    size_query_param = "size"
    default_size = 20
    message = "Page retrieved successfully"

    def paginate_queryset(
        self, queryset: QuerySet[Any] | Sequence[Any], request: Request, view: Any = None
    ) -> list[Any]:
        self.number = _query_int(request, self.page_query_param, 0, 0, MAX_PAGE)
        self.size = _query_int(request, self.size_query_param, self.default_size, 1, MAX_PAGE_SIZE)
        self.total = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
        start = self.number * self.size
        return list(queryset[start : start + self.size])

    def page_body(self, data: list[Any]) -> dict[str, Any]:
        return {
            "content": data,
            "totalElements": self.total,
            "totalPages": math.ceil(self.total / self.size) if self.total else 0,
            "size": self.size,
            "number": self.number,
        }

    def get_paginated_response(self, data: Any) -> Response:
        return envelope(self.page_body(data), message=self.message)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "success": {"type": "boolean"},
                "message": {"type": "string"},
                "timestamp": {"type": "string", "format": "date-time"},
                "data": {
                    "type": "object",
                    "properties": {
                        "content": schema,
                        "totalElements": {"type": "integer"},
                        "totalPages": {"type": "integer"},
                        "size": {"type": "integer"},
                        "number": {"type": "integer"},
                    },
                },
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "Page number, counting from 0.",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_PAGE, "default": 0},
            },
            {
                "name": self.size_query_param,
                "required": False,
                "in": "query",
                "description": f"Page size (1-{MAX_PAGE_SIZE}).",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_PAGE_SIZE,
                    "default": self.default_size,
                },
            },
        ]
