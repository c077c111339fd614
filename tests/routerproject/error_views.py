"""Views that raise each kind of error, mounted only by the envelope tests."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.urls import include, path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from routerproject.envelope import envelope
from routerproject.exceptions import Conflict, NotFound
from routerproject.pagination import PageSizePagination


class _Input(serializers.Serializer):
    capacity = serializers.IntegerField(min_value=0)
    algorithm = serializers.ChoiceField(choices=["token_bucket", "leaky_bucket"])


class Raising(APIView):
    def post(self, request, kind: str) -> Response:
        if kind == "validation":
            _Input(data=request.data).is_valid(raise_exception=True)
        if kind == "django-validation":
            raise DjangoValidationError({"baseUrl": ["Enter a valid URL."]})
        if kind == "missing":
            raise NotFound("Service type 'nope' does not exist")
        if kind == "conflict":
            raise Conflict("Instance 'a@http://x' already exists")
        if kind == "integrity":
            raise IntegrityError("duplicate key value violates unique constraint secret_name")
        if kind == "database-down":
            raise OperationalError('connection to server at "db.internal" failed: refused')
        if kind == "connection-lost":
            raise InterfaceError("connection already closed")
        if kind == "crash":
            raise RuntimeError("secret internals: password=hunter2hunter2")
        return envelope({"kind": kind}, message="Nothing raised")

    def get(self, request, kind: str) -> Response:
        paginator = PageSizePagination()
        page = paginator.paginate_queryset(list(range(45)), request, self)
        return paginator.get_paginated_response(page)


urlpatterns = [
    path("api/test/<str:kind>", Raising.as_view()),
    path("", include("routerproject.urls")),
]

handler404 = "routerproject.views.not_found"
