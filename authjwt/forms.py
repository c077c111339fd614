"""The sign-in forms (dashboard, Django admin, browsable API) with the password throttle's refusal
as a form error rather than a server error."""

from typing import Any, cast

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from .errors import TooManyAttempts


class ThrottledSignInMixin(forms.Form):
    def clean(self) -> dict[str, Any]:
        try:
            return cast(dict[str, Any], super().clean())
        except TooManyAttempts as refusal:
            raise forms.ValidationError(refusal.message, code="too_many_attempts") from None


class ThrottledAuthenticationForm(ThrottledSignInMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledSignInMixin, AdminAuthenticationForm):
    pass
