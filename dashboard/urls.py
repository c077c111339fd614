"""The dashboard's pages. Instance ids (`name@baseUrl`) and request ids may hold slashes, so they
travel as `?id=`."""

from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from authjwt.forms import ThrottledAuthenticationForm

from .views import monitoring, overview, requests, router, security, services, versions

app_name = "dashboard"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:overview"), name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="dashboard/login.html",
            authentication_form=ThrottledAuthenticationForm,
            redirect_authenticated_user=True,
            next_page="dashboard:home",
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="dashboard:login"), name="logout"),
    path("overview/", overview.overview, name="overview"),
    path("overview.json", overview.overview_json, name="overview-json"),
    path("services/", services.service_list, name="services"),
    path("services/new/", services.service_create, name="service-create"),
    path("services/<str:service_type>/edit/", services.service_edit, name="service-edit"),
    path("services/<str:service_type>/delete/", services.service_delete, name="service-delete"),
    path(
        "services/<str:service_type>/instances/new/",
        services.instance_create,
        name="instance-create",
    ),
    path(
        "services/<str:service_type>/instances/edit/", services.instance_edit, name="instance-edit"
    ),
    path(
        "services/<str:service_type>/instances/toggle/",
        services.instance_toggle,
        name="instance-toggle",
    ),
    path(
        "services/<str:service_type>/instances/delete/",
        services.instance_delete,
        name="instance-delete",
    ),
    path("versions/", versions.version_list, name="versions"),
    path("versions/<int:number>/apply/", versions.version_apply, name="version-apply"),
    path("versions/<int:number>/rollback/", versions.version_rollback, name="version-rollback"),
    path("router/", router.router_page, name="router"),
    path("router/settings/", router.router_settings, name="router-settings"),
    path("router/reload/", router.router_reload, name="router-reload"),
    path("router/breaker-reset/", router.router_breaker_reset, name="router-breaker-reset"),
    path("monitoring/", monitoring.monitoring_page, name="monitoring"),
    path("monitoring/settings/", monitoring.monitoring_settings_save, name="monitoring-settings"),
    path("monitoring/degradation/level/", monitoring.degradation_level, name="degradation-level"),
    path("monitoring/degradation/auto/", monitoring.degradation_auto, name="degradation-auto"),
    path(
        "monitoring/degradation/recover/",
        monitoring.degradation_recover,
        name="degradation-recover",
    ),
    path("monitoring/errors/reset/", monitoring.error_reset, name="error-reset"),
    path("monitoring/cache/clear/", monitoring.cache_clear, name="cache-clear"),
    path("requests/", requests.request_list, name="requests"),
    path("requests/one/", requests.request_detail, name="request-detail"),
    path("usage/", requests.usage, name="usage"),
    path("security/", security.security, name="security"),
    path("security/tokens/<str:token_id>/revoke/", security.token_revoke, name="token-revoke"),
    path("security/api-keys/new/", security.api_key_create, name="api-key-create"),
    path(
        "security/api-keys/<str:api_key_id>/edit/",
        security.api_key_edit,
        name="api-key-edit",
    ),
    path(
        "security/api-keys/<str:api_key_id>/revoke/",
        security.api_key_revoke,
        name="api-key-revoke",
    ),
]
