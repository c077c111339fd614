"""Services and instances: the same services (and so the same rules, messages and configuration
versions) as `/api/config/type` and `/api/config/instance`."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from configversions.selectors import current_version_number
from routerproject.exceptions import DomainError, NotFound
from routing import selectors, services
from routing.models import ServiceInstance, ServiceType
from routing.representation import (
    INSTANCE_FIELDS,
    SERVICE_FIELDS,
    instance_content,
    instance_info,
    mask_instance,
)
from routing.service_types import ServiceKind

from ..access import operator, reader
from ..errors import call_service
from ..forms import InstanceForm, ServiceTypeForm
from .confirmation import confirm_page

SERVICE_FORM_FIELDS = ("load_balancer", "retries", "connect_timeout_ms", "request_timeout_ms")
SERVICE_JSON_FIELDS = ("rate_limit", "circuit_breaker", "fallback", "aliases")


def _saved(request: HttpRequest, what: str) -> HttpResponse:
    messages.success(request, f"{what} Live configuration: version {current_version_number()}.")
    return redirect("dashboard:services")


@reader
def service_list(request: HttpRequest) -> HttpResponse:
    service_types = list(selectors.service_type_list())
    rows = [
        {"service": service, "instances": [instance_info(i) for i in service.instances.all()]}
        for service in service_types
    ]
    configured = {service.name for service in service_types}
    return render(
        request,
        "dashboard/services.html",
        {
            "rows": rows,
            "missing_kinds": [k.value for k in ServiceKind if k.value not in configured],
            "current_version": current_version_number(),
        },
    )


def _service_initial(service: ServiceType) -> dict[str, Any]:
    return {
        field: getattr(service, field) for field in (*SERVICE_FORM_FIELDS, *SERVICE_JSON_FIELDS)
    }


@operator
def service_create(request: HttpRequest) -> HttpResponse:
    form = ServiceTypeForm(request.POST or None, initial=_service_initial(ServiceType()))
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        name = fields.pop("name")
        created = call_service(
            form,
            lambda: services.service_type_create(name=name, actor=request.user, **fields),
            {**SERVICE_FIELDS, "serviceType": "name"},
        )
        if created is not None:
            return _saved(request, f"Service type {name} created.")
    return render(
        request,
        "dashboard/form.html",
        {"form": form, "title": "New service type", "back": "services"},
    )


@operator
def service_edit(request: HttpRequest, service_type: str) -> HttpResponse:
    service = selectors.service_type_get(name=service_type)
    form = ServiceTypeForm(request.POST or None, initial=_service_initial(service), editing=True)
    if request.method == "POST" and form.is_valid():
        updated = call_service(
            form,
            lambda: services.service_type_update(
                name=service_type, actor=request.user, **form.cleaned_data
            ),
            SERVICE_FIELDS,
        )
        if updated is not None:
            return _saved(request, f"Service type {service_type} saved.")
    return render(
        request,
        "dashboard/form.html",
        {"form": form, "title": f"Edit service type {service_type}", "back": "services"},
    )


@operator
def service_delete(request: HttpRequest, service_type: str) -> HttpResponse:
    service = selectors.service_type_get(name=service_type)
    if request.method == "POST":
        services.service_type_delete(name=service.name, actor=request.user)
        return _saved(request, f"Service type {service_type} deleted.")
    return confirm_page(
        request,
        title=f"Delete service type {service_type}",
        question=f"Delete service type {service_type} and its {service.instances.count()} instance(s)?",
        button=f"Delete {service_type}",
        cancel_url=reverse("dashboard:services"),
    )


def _instance(service_type: str, request: HttpRequest) -> ServiceInstance:
    instance_id = request.POST.get("id") or request.GET.get("id") or ""
    return selectors.instance_get_by_id(service_type=service_type, instance_id=instance_id)


@operator
def instance_create(request: HttpRequest, service_type: str) -> HttpResponse:
    selectors.service_type_get(name=service_type)
    form = InstanceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        name, base_url = fields.pop("name"), fields.pop("base_url")
        added = call_service(
            form,
            lambda: services.instance_add(
                service_type=service_type,
                name=name,
                base_url=base_url,
                actor=request.user,
                **fields,
            ),
            INSTANCE_FIELDS,
        )
        if added is not None:
            return _saved(request, f"Instance {added.instance_id} added to {service_type}.")
    return render(
        request,
        "dashboard/form.html",
        {"form": form, "title": f"Add an instance to {service_type}", "back": "services"},
    )


@operator
def instance_edit(request: HttpRequest, service_type: str) -> HttpResponse:
    instance = _instance(service_type, request)
    shown = mask_instance(instance_content(instance))
    initial = {field: shown[api] for api, field in INSTANCE_FIELDS.items() if field != "api_key"}
    form = InstanceForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        updated = call_service(
            form,
            lambda: services.instance_update(
                service_type=service_type,
                instance_id=instance.instance_id,
                actor=request.user,
                **form.service_fields(),
            ),
            INSTANCE_FIELDS,
        )
        if updated is not None:
            return _saved(request, f"Instance {updated.instance_id} saved.")
    return render(
        request,
        "dashboard/form.html",
        {
            "form": form,
            "title": f"Edit instance {instance.instance_id}",
            "subtitle": f"Stored API key: {shown['apiKey'] or '(none)'}",
            "back": "services",
            "hidden": {"id": instance.instance_id},
        },
    )


@operator
def instance_toggle(request: HttpRequest, service_type: str) -> HttpResponse:
    if request.method != "POST":
        return redirect("dashboard:services")
    instance = _instance(service_type, request)
    try:
        services.instance_update(
            service_type=service_type,
            instance_id=instance.instance_id,
            actor=request.user,
            enabled=not instance.enabled,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:services")
    state = "disabled" if instance.enabled else "enabled"
    return _saved(request, f"Instance {instance.instance_id} {state}.")


@operator
def instance_delete(request: HttpRequest, service_type: str) -> HttpResponse:
    try:
        instance = _instance(service_type, request)
    except NotFound as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:services")
    if request.method == "POST":
        services.instance_delete(
            service_type=service_type,
            name=instance.name,
            base_url=instance.base_url,
            actor=request.user,
        )
        return _saved(request, f"Instance {instance.instance_id} deleted.")
    return confirm_page(
        request,
        title="Delete an instance",
        question=f"Delete instance {instance.instance_id} from {service_type}?",
        button="Delete instance",
        cancel_url=reverse("dashboard:services"),
    )
