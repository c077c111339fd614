"""Top-level routes. The seed's `/admin/*` paths belong to the router's operations API, so the Django
admin lives at `/django-admin/`."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", TemplateView.as_view(template_name="index.html"), name="index"),
    path("django-admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("v1/", include("routing.dataplane.urls")),
    path("api/", include("routing.api.urls")),
    path("api/", include("configversions.api.urls")),
    path("api-auth/", include("authjwt.browsable_api_urls")),
    path("api/auth/", include("authjwt.api.urls")),
    path("api/monitoring/", include("routing.api.breaker_urls")),
    path("api/monitoring/", include("monitoring.api.urls")),
    path("api/", include("monitoring.api.request_urls")),
    path("dashboard/", include("dashboard.urls")),
    path("", include("routing.api.ops_urls")),
]

handler404 = "routerproject.views.not_found"
handler500 = "routerproject.views.internal_error"
