"""Security: operators' JWTs (filter, revoke), API keys for /v1 (create shows the key once, revoke),
and the revocation blacklist's figures. The services and selectors of `/api/auth`."""

import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from authjwt import key_usage, selectors, services
from authjwt.keys import principal_of
from authjwt.models import ApiKey
from routerproject.exceptions import Conflict
from routerproject.state import STATE_ERRORS, get_state

from ..access import operator, reader
from ..errors import call_service
from ..forms import ApiKeyForm, TokenFilterForm, TokenRevokeForm
from .confirmation import confirm_page

TOKENS_PER_PAGE = 25


def _page(request: HttpRequest, api_key_form: ApiKeyForm | None = None) -> HttpResponse:
    filters = TokenFilterForm(request.GET or None)
    status = user = None
    if filters.is_valid():
        status = filters.cleaned_data["status"] or None
        user = filters.cleaned_data["user"] or None
    tokens = Paginator(selectors.token_list(user_id=user, status=status), TOKENS_PER_PAGE)
    page = tokens.get_page(request.GET.get("page"))
    return render(
        request,
        "dashboard/security.html",
        {
            "filters": filters,
            "tokens": [(t, selectors.effective_status(t)) for t in page],
            "page": page,
            "api_keys": _with_usage(list(selectors.api_key_list())),
            "api_key_form": api_key_form or ApiKeyForm(),
            "stats": selectors.blacklist_stats(),
        },
    )


def _with_usage(api_keys: list[ApiKey]) -> list[tuple[ApiKey, key_usage.Usage | None]]:
    """Each key with its usage to date (None when the shared state cannot be read)."""
    try:
        usage = key_usage.usage_of([principal_of(k) for k in api_keys], get_state())
    except STATE_ERRORS:
        usage = {}
    return [(api_key, usage.get(str(api_key.pk))) for api_key in api_keys]


@reader
def security(request: HttpRequest) -> HttpResponse:
    return _page(request)


@operator
def api_key_edit(request: HttpRequest, api_key_id: str) -> HttpResponse:
    api_key = selectors.api_key_get(api_key_id=api_key_id)
    initial = {name: getattr(api_key, name) for name in ApiKeyForm.base_fields}
    initial["allowed_models"] = ", ".join(api_key.allowed_models)
    form = ApiKeyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        updated = call_service(
            form,
            lambda: services.api_key_update(api_key_id=api_key.id, changes=form.cleaned_data),
        )
        if updated is not None:
            messages.success(request, f"API key {api_key.name} ({api_key.prefix}…) saved.")
            return redirect("dashboard:security")
    return render(
        request,
        "dashboard/form.html",
        {"form": form, "title": f"Edit API key {api_key.name}", "back": "security"},
    )


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Http404("No such id") from None


@operator
def token_revoke(request: HttpRequest, token_id: str) -> HttpResponse:
    token = selectors.token_get(token_id=token_id)
    form = TokenRevokeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.token_revoke(
                token_id=_uuid(token_id), reason=form.cleaned_data["reason"], actor=request.user
            )
        except Conflict as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, f"Token {token_id} revoked, with the rest of its login session."
            )
        return redirect("dashboard:security")
    return confirm_page(
        request,
        title="Revoke a token",
        question=(
            f"Revoke {token.token_type} token {token.id} of {token.user.get_username()}? "
            "Its whole login session (access and refresh tokens) is revoked with it."
        ),
        button="Revoke token",
        cancel_url=reverse("dashboard:security"),
        form=form,
    )


@operator
def api_key_create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("dashboard:security")
    form = ApiKeyForm(request.POST)
    if form.is_valid():
        created = call_service(
            form, lambda: services.api_key_create(actor=request.user, **form.cleaned_data)
        )
        if created is not None:
            api_key, raw_key = created
            response = render(
                request,
                "dashboard/api_key_created.html",
                {"api_key": api_key, "raw_key": raw_key},
                status=201,
            )
            add_never_cache_headers(response)  # shown this once: never from a cache
            return response
    return _page(request, api_key_form=form)


@operator
def api_key_revoke(request: HttpRequest, api_key_id: str) -> HttpResponse:
    api_key = selectors.api_key_get(api_key_id=api_key_id)
    if request.method == "POST":
        try:
            services.api_key_revoke(api_key_id=api_key.id, actor=request.user)
        except Conflict as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"API key {api_key.name} ({api_key.prefix}…) revoked.")
        return redirect("dashboard:security")
    return confirm_page(
        request,
        title="Revoke an API key",
        question=(
            f"Revoke API key {api_key.name} ({api_key.prefix}…)? Clients using it are refused "
            "at once; this cannot be undone."
        ),
        button="Revoke API key",
        cancel_url=reverse("dashboard:security"),
    )
