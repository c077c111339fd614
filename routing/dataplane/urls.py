"""/v1 routes (included under `v1/` by the project's URLconf)."""

from django.urls import path, re_path

from . import views
from .endpoints import ENDPOINTS

app_name = "v1"

# The fixed paths, which the lean handler (`asgi.V1Handler`) dispatches without the URL resolver.
FIXED_ROUTES: dict[str, views.View] = {
    **{route: views.proxy_view(route) for route in ENDPOINTS},
    "models": views.models,
    "messages/count_tokens": views.count_tokens,
}

urlpatterns = [
    *(path(route, view, name=route.replace("/", "-")) for route, view in FIXED_ROUTES.items()),
    path("models/<path:model_id>", views.model, name="model"),
    path("responses/<str:response_id>", views.stored_response, name="response"),
    re_path(r"^(?P<rest>.*)$", views.not_found, name="not-found"),
]
