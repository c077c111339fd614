"""Monitoring: its settings (a versioned part of the configuration), the degradation level, the error
stats per component and the caches. The same services as `/api/monitoring/*`."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from configversions.selectors import current_version_number
from monitoring import caches, degradation, errors
from monitoring.selectors import monitoring_settings
from monitoring.services import monitoring_settings_update
from routerproject.exceptions import NotFound

from ..access import operator, reader
from ..errors import call_service
from ..forms import (
    DegradationAutoForm,
    DegradationLevelForm,
    ErrorResetForm,
    MonitoringSettingsForm,
)
from .confirmation import confirm_page


def _page(request: HttpRequest, form: MonitoringSettingsForm | None = None) -> HttpResponse:
    status = degradation.degradation_status()
    return render(
        request,
        "dashboard/monitoring.html",
        {
            "form": form or MonitoringSettingsForm.from_settings(monitoring_settings()),
            "degradation": status,
            "since_change": None
            if status["timeSinceLastChange"] is None
            else status["timeSinceLastChange"] // 1000,
            "level_form": DegradationLevelForm(initial={"level": status["level"]}),
            "errors": errors.error_stats(),
            "caches": caches.cache_stats(),
        },
    )


@reader
def monitoring_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@operator
def monitoring_settings_save(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("dashboard:monitoring")
    form = MonitoringSettingsForm(request.POST)
    if form.is_valid():
        changed = call_service(
            form,
            lambda: monitoring_settings_update(actor=request.user, **form.service_fields()),
            MonitoringSettingsForm.ERROR_FIELDS,
        )
        if changed is not None:
            if changed:
                messages.success(
                    request,
                    f"Monitoring settings saved ({', '.join(changed)}). "
                    f"Live configuration: version {current_version_number()}.",
                )
            else:
                messages.info(request, "Nothing changed.")
            return redirect("dashboard:monitoring")
    return _page(request, form)


@operator
def degradation_level(request: HttpRequest) -> HttpResponse:
    form = DegradationLevelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        level = degradation.degradation_set_level(
            degradation.parse_level(form.cleaned_data["level"])
        )
        messages.success(request, f"Degradation level set to {level.value}; auto mode is off.")
    elif request.method == "POST":
        messages.error(request, "Choose one of the levels.")
    return redirect("dashboard:monitoring")


@operator
def degradation_auto(request: HttpRequest) -> HttpResponse:
    form = DegradationAutoForm(request.POST)
    if request.method == "POST" and form.is_valid():
        enabled = degradation.degradation_set_auto(enabled=form.cleaned_data["enabled"])
        messages.success(request, f"Auto mode {'on' if enabled else 'off'}.")
    return redirect("dashboard:monitoring")


@operator
def degradation_recover(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        degradation.degradation_force_recovery()
        messages.success(request, "Recovered to NORMAL on every worker.")
    return redirect("dashboard:monitoring")


@operator
def error_reset(request: HttpRequest) -> HttpResponse:
    form = ErrorResetForm(request.POST)
    if request.method == "POST" and form.is_valid():
        try:
            reset = errors.error_reset(form.cleaned_data["component"] or None)
        except NotFound as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Error status reset: {', '.join(reset)}.")
    return redirect("dashboard:monitoring")


@operator
def cache_clear(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        cleared = caches.cache_clear()
        messages.success(request, f"Caches cleared on every worker: {', '.join(cleared)}.")
        return redirect("dashboard:monitoring")
    return confirm_page(
        request,
        title="Clear the caches",
        question=(
            "Empty the gateway's caches (live configuration, API keys, routing exemplars) on "
            "every worker? They refill on the next requests, which are slower meanwhile."
        ),
        button="Clear caches",
        cancel_url=reverse("dashboard:monitoring"),
    )
