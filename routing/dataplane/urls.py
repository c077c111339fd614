"""/v1 routes (included under `v1/` by the project's URLconf)."""

from django.urls import path, re_path

from . import views
from .endpoints import ENDPOINTS

app_name = "v1"

urlpatterns = [
    *(path(route, views.proxy_view(route), name=route.replace("/", "-")) for route in ENDPOINTS),
    path("models", views.models, name="models"),
    path("models/<path:model_id>", views.model, name="model"),
    re_path(r"^(?P<rest>.*)$", views.not_found, name="not-found"),
]
