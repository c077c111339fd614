"""The neural router: the model this process serves, its settings (a versioned part of the
configuration), its calibrated threshold against the share of powerful calls it aims at and the
share it makes (fleet-wide, from the metrics), its last decisions, its breaker, reload, and what the
router has learnt so far (its exemplars)."""

import math
from datetime import UTC, datetime
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from configversions.selectors import current_version_number
from monitoring.exposition import router_figures
from routing import selectors, services
from routing.exemplars import recent_decisions
from routing.live_config import get_live_config
from routing.neural.model_file import ModelFileError
from routing.neural.prompt_router import PromptRouter
from routing.neural_runtime import RouterRuntime, display_model_path, runtime
from routing.services_section import ROUTER_FIELDS, router_settings_row

from ..access import operator, reader
from ..errors import call_service
from ..forms import RouterSettingsForm

# Decisions shown on the page (the shared state keeps the last RECENT_DECISIONS).
DECISIONS_SHOWN = 20


def format_threshold(threshold: float | None) -> str:
    """The calibrated score threshold as the page shows it (4 decimals)."""
    if threshold is None or math.isnan(threshold):
        return "—"
    if math.isinf(threshold):
        return (
            "none (every prompt to the powerful tier)"
            if threshold < 0
            else "none (every prompt to the lightweight tier)"
        )
    return f"{threshold:.4f}"


def format_share(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.1f}%"


def _calibration(router: PromptRouter) -> dict[str, Any]:
    """The threshold, the share it aims at and the share the fleet's decisions have made so far."""
    figures = router_figures()
    lightweight, powerful = figures["lightweight_routes"], figures["powerful_routes"]
    decided = lightweight + powerful
    threshold = router.threshold
    prompt = router.prompt_model
    training = prompt.spec.training if prompt is not None else {}
    return {
        "threshold": format_threshold(threshold),
        "target_share": format_share(router.config.target_powerful_share),
        "training_share": format_share(prompt.spec.calibration.powerful_share(threshold))
        if prompt is not None and threshold is not None
        else None,
        "actual_share": format_share(powerful / decided) if decided else None,
        "powerful": powerful,
        "decided": decided,
        "confidence_threshold": router.config.confidence_threshold,
        "max_uncertainty": router.config.max_uncertainty,
        "facts": _training_facts(training, len(prompt.bank)) if prompt is not None else [],
    }


def _training_facts(training: dict[str, Any], bank_size: int) -> list[tuple[str, str]]:
    """What the model file says about its training, as (label, value) rows (those it has)."""
    facts = [("Exemplar bank", f"{bank_size} prompts")]
    if "trainingRows" in training:
        held_out = training.get("heldOutRows")
        facts.append(
            (
                "Training prompts",
                f"{training['trainingRows']}"
                + (f" (+ {held_out} held out)" if held_out is not None else ""),
            )
        )
    if "bestEpoch" in training:
        epochs = training.get("epochs")
        stopped = " (stopped early)" if training.get("stoppedEarly") else ""
        facts.append(
            (
                "Best epoch",
                f"{training['bestEpoch']}" + (f" of {epochs}" if epochs else "") + stopped,
            )
        )
    if isinstance(training.get("validationLoss"), int | float):
        facts.append(("Validation loss", f"{training['validationLoss']:.4f}"))
    if training.get("trafficRows"):
        facts.append(("From gateway traffic", f"{training['trafficRows']} prompts"))
    return facts


def _decisions() -> list[dict[str, Any]]:
    """The last decisions the outcome job folded, newest first, ready to show."""
    rows = []
    for decision in recent_decisions()[:DECISIONS_SHOWN]:
        at, score, confidence = (decision.get(k) for k in ("at", "score", "confidence"))
        rows.append(
            {
                "at": datetime.fromtimestamp(at, tz=UTC) if isinstance(at, int | float) else None,
                "request_id": decision.get("requestId") or "",
                "service": decision.get("service") or "",
                "tier": decision.get("tier") or "",
                # An exploring decision sends the prompt to the lightweight tier unscored (-1).
                "score": f"{score:.4f}" if isinstance(score, int | float) and score >= 0 else "—",
                "confidence": f"{confidence:.4f}" if isinstance(confidence, int | float) else "—",
                "reason": decision.get("reason") or "",
            }
        )
    return rows


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
            "breaker": router.breaker_state() or "CLOSED",
            "breaker_enabled": router.breaker is not None,
            "calibration": _calibration(router),
            "decisions": _decisions(),
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
