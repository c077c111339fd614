"""Destructive actions ask first: a GET shows a confirmation page whose form POSTs the action (the
page works without JavaScript; with it, `dashboard.js` shows the same form in a `<dialog>`)."""

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def confirm_page(
    request: HttpRequest,
    *,
    title: str,
    question: str,
    button: str,
    cancel_url: str,
    form: forms.Form | None = None,
    danger: bool = True,
) -> HttpResponse:
    return render(
        request,
        "dashboard/confirm.html",
        {
            "title": title,
            "action": request.get_full_path(),
            "question": question,
            "button": button,
            "cancel_url": cancel_url,
            "form": form,
            "danger": danger,
        },
    )
