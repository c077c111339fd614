from django.contrib import admin

from .forms import ThrottledAdminAuthenticationForm
from .models import ApiKey, IssuedToken, TokenCleanup

# The Django admin's sign-in goes through the password throttle like every other (forms.py).
admin.site.login_form = ThrottledAdminAuthenticationForm


@admin.register(IssuedToken)
class IssuedTokenAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "token_type", "status", "issued_at", "expires_at", "ip_address"]
    list_filter = ["status", "token_type"]
    search_fields = ["user__username", "jti", "ip_address"]
    readonly_fields = [f.name for f in IssuedToken._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    # Created through /api/auth/api-keys only: the clear key must be shown once, at creation.
    list_display = ["name", "prefix", "enabled", "revoked_at", "expires_at", "created_at"]
    readonly_fields = ["prefix", "key_hash", "revoked_at", "revoked_by", "created_by"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(TokenCleanup)
class TokenCleanupAdmin(admin.ModelAdmin):
    list_display = [
        "completed_at",
        "cleanup_type",
        "expired_tokens_removed",
        "expired_blacklist_entries_removed",
        "duration_seconds",
    ]
