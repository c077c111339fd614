"""/api/auth: JWT login and token management (the seed's `/api/auth/jwt`), and API keys."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter(trailing_slash=False)
router.register("jwt/tokens", views.TokenViewSet, basename="jwt-token")
router.register("api-keys", views.ApiKeyViewSet, basename="api-key")

urlpatterns = [
    path("jwt/login", views.LoginView.as_view(), name="jwt-login"),
    path("jwt/refresh", views.RefreshView.as_view(), name="jwt-refresh"),
    path("jwt/logout", views.LogoutView.as_view(), name="jwt-logout"),
    path("jwt/validate", views.ValidateView.as_view(), name="jwt-validate"),
    path("jwt/cleanup", views.CleanupView.as_view(), name="jwt-cleanup"),
    path("jwt/blacklist/stats", views.BlacklistStatsView.as_view(), name="jwt-blacklist-stats"),
    *router.urls,
]
