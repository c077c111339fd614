"""The neural router: the model this process serves, its settings (a versioned part of the
configuration), its breaker, reload, and what the router has learnt so far (its exemplars)."""

from datetime import UTC, datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from configversions.selectors import current_version_number
from routing import selectors, services
from routing.config_section import ROUTER_FIELDS, router_settings_row
from routing.live import get_live_config
from routing.neural.model_file import ModelFileError
from routing.router_runtime import RouterRuntime, display_model_path, runtime

from ..access import operator, reader
from ..errors import call_service
from ..forms import RouterSettingsForm


def _page(request: HttpRequest, form: RouterSettingsForm | None = None) -> HttpResponse:
    router = runtime.current(get_live_config().router)
    row = router_settings_row()
    loaded_at = runtime.loaded_at
    return render(
        request,
        "dashboard/router.html",
        {
            "served": router.served_model,
            "model_file": display_model_path(router.served_model.path)
            if router.served_model
            else None,
            "load_error": router.load_error,
            "loaded_at": datetime.fromtimestamp(loaded_at, tz=UTC) if loaded_at else None,
            "breaker": router.breaker_state(),
            "breaker_enabled": router.breaker is not None,
            "form": form or RouterSettingsForm(initial={f: getattr(row, f) for f in ROUTER_FIELDS}),
            "exemplar_counts": selectors.exemplar_counts(),
            "exemplars": selectors.exemplar_recent(limit=20),
        },
    )


@reader
def router_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@operator
def router_settings(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("dashboard:router")
    form = RouterSettingsForm(request.POST)
    if form.is_valid():
        changed = call_service(
            form, lambda: services.router_settings_update(actor=request.user, **form.cleaned_data)
        )
        if changed is not None:
            if changed:
                messages.success(
                    request,
                    f"Router settings saved ({', '.join(changed)}). "
                    f"Live configuration: version {current_version_number()}.",
                )
            else:
                messages.info(request, "Nothing changed.")
            return redirect("dashboard:router")
    return _page(request, form)


@operator
def router_reload(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            runtime.reload(get_live_config().router)
        except ModelFileError as exc:
            messages.error(request, f"Reload refused, the model in service keeps serving: {exc}")
        else:
            messages.success(request, "Model reloaded here and, within a second, on every worker.")
    return redirect("dashboard:router")


@operator
def router_breaker_reset(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        RouterRuntime.reset_breaker()
        messages.success(request, "Breaker reset on every worker.")
    return redirect("dashboard:router")
