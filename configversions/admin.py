"""Versions in the Django admin: read-only snapshots, with apply and rollback as actions."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from routerproject.exceptions import DomainError

from . import services
from .models import ConfigVersion
from .selectors import current_version_number


@admin.register(ConfigVersion)
class ConfigVersionAdmin(admin.ModelAdmin):
    list_display = ["number", "operation", "created_by", "created_at", "is_current"]
    readonly_fields = ["number", "operation", "created_by", "created_at"]
    exclude = ["snapshot"]  # carries secrets in clear; the API shows it masked
    actions = ["apply_version", "rollback_to_version"]

    @admin.display(boolean=True, description="current")
    def is_current(self, obj: ConfigVersion) -> bool:
        return obj.number == current_version_number()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _single(
        self, request: HttpRequest, queryset: QuerySet[ConfigVersion]
    ) -> ConfigVersion | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return None
        return queryset.get()

    @admin.action(description="Apply the selected version (make it live)")
    def apply_version(self, request: HttpRequest, queryset: QuerySet[ConfigVersion]) -> None:
        version = self._single(request, queryset)
        if version:
            services.version_apply(number=version.number, actor=request.user)
            self.message_user(request, f"Version {version.number} is live.")

    @admin.action(description="Roll back to the selected version (as a new version)")
    def rollback_to_version(self, request: HttpRequest, queryset: QuerySet[ConfigVersion]) -> None:
        version = self._single(request, queryset)
        if version:
            change = services.version_rollback(number=version.number, actor=request.user)
            written = change.version.number if change.version else current_version_number()
            self.message_user(
                request, f"Rolled back to version {version.number} as version {written}."
            )

    def delete_model(self, request: HttpRequest, obj: ConfigVersion) -> None:
        try:
            services.version_delete(number=obj.number)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ConfigVersion]) -> None:
        for version in queryset:
            self.delete_model(request, version)
