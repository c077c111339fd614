"""Configuration versions: who changed what and when, a side-by-side diff of any two versions,
apply and rollback (the services of `/api/config/version`)."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from configversions import selectors, services
from configversions.diff import snapshot_diff

from ..access import operator, reader
from ..forms import DiffForm
from .confirmation import confirm_page


def side_by_side(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of path | A | B for every path that differs, from the API's diff of masked snapshots."""
    diff = snapshot_diff(selectors.masked_snapshot(a), selectors.masked_snapshot(b))
    rows = [{"path": p, "kind": "added", "b": v} for p, v in diff["added"].items()]
    rows += [{"path": p, "kind": "removed", "a": v} for p, v in diff["removed"].items()]
    rows += [
        {"path": p, "kind": "changed", "a": v["from"], "b": v["to"]}
        for p, v in diff["changed"].items()
    ]
    return sorted(rows, key=lambda row: row["path"])


@reader
def version_list(request: HttpRequest) -> HttpResponse:
    versions = list(selectors.version_list().order_by("-number"))
    numbers = sorted(v.number for v in versions)
    current = selectors.current_version_number()
    diff: list[dict[str, Any]] | None = None
    form = DiffForm(request.GET if "a" in request.GET else None, numbers=numbers)
    if not form.is_bound and len(numbers) >= 2:
        form = DiffForm(initial={"a": numbers[-2], "b": numbers[-1]}, numbers=numbers)
    pair: tuple[int, int] | None = None
    if form.is_bound and form.is_valid():
        pair = (form.cleaned_data["a"], form.cleaned_data["b"])
        by_number = {v.number: v for v in versions}
        diff = side_by_side(by_number[pair[0]].snapshot, by_number[pair[1]].snapshot)
    return render(
        request,
        "dashboard/versions.html",
        {"versions": versions, "current": current, "form": form, "diff": diff, "pair": pair},
    )


@operator
def version_apply(request: HttpRequest, number: int) -> HttpResponse:
    version = selectors.version_get(number=number)
    if request.method == "POST":
        services.version_apply(number=version.number, actor=request.user)
        messages.success(request, f"Version {number} applied: it is the live configuration.")
        return redirect("dashboard:versions")
    return confirm_page(
        request,
        title=f"Apply version {number}",
        question=(
            f"Make version {number} ({version.operation}) the live configuration as it is? "
            "No new version is written; the current pointer moves."
        ),
        button=f"Apply version {number}",
        cancel_url=reverse("dashboard:versions"),
    )


@operator
def version_rollback(request: HttpRequest, number: int) -> HttpResponse:
    version = selectors.version_get(number=number)
    if request.method == "POST":
        change = services.version_rollback(number=version.number, actor=request.user)
        if change.version is None:
            messages.info(request, f"Version {number} is already the live configuration.")
        else:
            messages.success(
                request, f"Rolled back to version {number} as version {change.version.number}."
            )
        return redirect("dashboard:versions")
    return confirm_page(
        request,
        title=f"Roll back to version {number}",
        question=(
            f"Write a new version with the content of version {number} ({version.operation}) "
            "and make it live?"
        ),
        button=f"Roll back to version {number}",
        cancel_url=reverse("dashboard:versions"),
    )
