"""The request history: the recorded /v1 requests (the filters of `/api/requests`, 50 a page),
one request's page, and the usage page (per key and per model: traffic, errors, mean latency,
spend, drawn by `usage.js`). The selectors of `/api/requests` and `/api/usage`."""

from datetime import timedelta
from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from monitoring import selectors

from ..access import reader
from ..forms import RequestFilterForm, UsageRangeForm

REQUESTS_PER_PAGE = 50
BARS = 12  # keys or models drawn per chart, the busiest


@reader
def request_list(request: HttpRequest) -> HttpResponse:
    filters = RequestFilterForm(request.GET or None)
    records = selectors.request_list()
    if filters.is_bound and filters.is_valid():
        data = filters.cleaned_data
        records = selectors.request_list(
            request_id=data["request_id"],
            key=data["key"],
            model=data["model"],
            instance=data["instance"],
            status=data["status"],
            start=data["start"],
            end=data["end"],
        )
    elif filters.is_bound:
        records = records.none()
    page = Paginator(records, REQUESTS_PER_PAGE).get_page(request.GET.get("page"))
    kept = request.GET.copy()
    kept.pop("page", None)
    return render(
        request,
        "dashboard/requests.html",
        {"filters": filters, "page": page, "query": kept.urlencode()},
    )


@reader
def request_detail(request: HttpRequest) -> HttpResponse:
    request_id = request.GET.get("id", "")
    if not request_id:
        raise Http404("No request id")
    record = selectors.request_get(request_id=request_id)
    return render(request, "dashboard/request_detail.html", {"record": record})


def _chart_rows(groups: Any) -> list[dict[str, Any]]:
    return [
        {
            "group": str(g["group"] or ""),
            "name": g.get("name") or str(g["group"] or "") or "(no key)",
            "requests": g["requests"],
            "errors": g["errors"],
            "latencyMs": None if g["latency_ms"] is None else round(g["latency_ms"], 1),
            "cost": float(g["cost"]),
            "tokens": g["prompt_tokens"] + g["completion_tokens"],
        }
        for g in groups[:BARS]
    ]


@reader
def usage(request: HttpRequest) -> HttpResponse:
    form = UsageRangeForm(request.GET or None)
    days = form.period_days()
    end = timezone.now()
    start = end - timedelta(days=days)
    by_key = selectors.request_usage(start=start, end=end, group_by="key")
    by_model = selectors.request_usage(start=start, end=end, group_by="model")
    data = {
        "from": start.isoformat(timespec="seconds"),
        "to": end.isoformat(timespec="seconds"),
        "byKey": _chart_rows(by_key["groups"]),
        "byModel": _chart_rows(by_model["groups"]),
    }
    return render(
        request,
        "dashboard/usage.html",
        {"form": form, "days": days, "totals": by_key["totals"], "data": data},
    )
