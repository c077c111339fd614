"""The request history's routes, included at `api/`: `requests`, `requests/{requestId}`, `usage`."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import request_views

router = SimpleRouter(trailing_slash=False)
router.register("requests", request_views.RequestViewSet, basename="request-record")

urlpatterns = [
    path("usage", request_views.UsageView.as_view(), name="usage"),
    *router.urls,
]
