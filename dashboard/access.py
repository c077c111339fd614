"""Who may do what in the dashboard: like the API's `IsOperator`, any signed-in user may look and
only staff may change anything."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from routerproject.exceptions import NotFound

View = Callable[..., HttpResponse]


def reader(view: View) -> View:
    """Signed-in users only (others go to the login page); an unknown object is a 404 page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None

    return login_required(wrapped, login_url="dashboard:login")


def operator(view: View) -> View:
    """Staff only: the forms and confirmations that change something (readers get a 403 page)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            return render(request, "dashboard/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return reader(wrapped)
