"""The browsable API's sign-in and sign-out: DRF's `rest_framework.urls` with the throttled form."""

from django.contrib.auth import views
from django.urls import path

from .forms import ThrottledAuthenticationForm

app_name = "rest_framework"
urlpatterns = [
    path(
        "login/",
        views.LoginView.as_view(
            template_name="rest_framework/login.html",
            authentication_form=ThrottledAuthenticationForm,
        ),
        name="login",
    ),
    path("logout/", views.LogoutView.as_view(), name="logout"),
]
