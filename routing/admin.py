"""Django admin for service types and instances. Saves and deletes go through `routing.services`,
so a change made here records a configuration version like one made through the API."""

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from routerproject.masking import mask_secret

from . import services
from .models import ServiceInstance, ServiceType
from .representation import mask_headers


@admin.register(ServiceType)
class ServiceTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "load_balancer", "retries", "instance_count", "updated_at"]
    readonly_fields = ["created_at", "updated_at"]

    @admin.display(description="instances")
    def instance_count(self, obj: ServiceType) -> int:
        return obj.instances.count()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*self.readonly_fields, "name"] if obj else list(self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: ServiceType, form: Any, change: bool) -> None:
        fields = {
            f: form.cleaned_data[f] for f in form.changed_data if f in services.SERVICE_TYPE_FIELDS
        }
        if change:
            saved = services.service_type_update(name=obj.name, actor=request.user, **fields)
        else:
            saved = services.service_type_create(name=obj.name, actor=request.user, **fields)
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: ServiceType) -> None:
        services.service_type_delete(name=obj.name, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ServiceType]) -> None:
        for service in queryset:
            self.delete_model(request, service)


class ServiceInstanceForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored, never shown. Leave empty to keep the current key.",
    )

    class Meta:
        model = ServiceInstance
        fields = [
            "service_type",
            "name",
            "base_url",
            "api_key",
            "weight",
            "enabled",
            "adapter",
            "path",
            "headers",
            "tier",
            "rate_limit",
            "circuit_breaker",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields[
                "api_key"
            ].help_text = (
                f"Current: {mask_secret(self.instance.api_key) or 'none'}. Leave empty to keep it."
            )
            self.initial["headers"] = mask_headers(self.instance.headers or {})

    def clean_api_key(self) -> str:
        value = self.cleaned_data.get("api_key") or ""
        return value or (self.instance.api_key if self.instance.pk else "")


@admin.register(ServiceInstance)
class ServiceInstanceAdmin(admin.ModelAdmin):
    form = ServiceInstanceForm
    list_display = [
        "name",
        "base_url",
        "service_type",
        "adapter",
        "weight",
        "enabled",
        "tier",
        "health_status",
    ]
    list_filter = ["service_type", "adapter", "enabled", "health_status"]
    search_fields = ["name", "base_url"]
    readonly_fields = ["health_status", "last_health_check", "created_at", "updated_at"]

    def save_model(
        self, request: HttpRequest, obj: ServiceInstance, form: Any, change: bool
    ) -> None:
        fields = {
            f: form.cleaned_data[f]
            for f in form.changed_data
            if f in services.INSTANCE_FIELDS and not (f == "api_key" and not form.cleaned_data[f])
        }
        if change:
            original = ServiceInstance.objects.get(pk=obj.pk)
            saved = services.instance_update(
                service_type=original.service_type.name,
                instance_id=original.instance_id,
                actor=request.user,
                **fields,
            )
        else:
            fields.pop("name", None)
            fields.pop("base_url", None)
            saved = services.instance_add(
                service_type=obj.service_type.name,
                name=obj.name,
                base_url=obj.base_url,
                actor=request.user,
                **fields,
            )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: ServiceInstance) -> None:
        services.instance_delete(
            service_type=obj.service_type.name,
            name=obj.name,
            base_url=obj.base_url,
            actor=request.user,
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ServiceInstance]) -> None:
        for instance in queryset.select_related("service_type"):
            self.delete_model(request, instance)
