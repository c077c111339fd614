"""A password change or a deactivation ends the user's JWT sessions: every access and refresh token
issued before it is revoked, whichever way the change was made. A password hash upgraded at sign-in
is not a change."""

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from authjwt.models import IssuedToken, TokenStatus
from tests.authjwt.conftest import STAFF_PASSWORD, bearer, login

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-operator-pass-456"


def _still_valid(api_client, pair: dict) -> tuple[int, int]:
    """(status of a call with the access token, status of a refresh with the refresh token)."""
    access = bearer(pair["token"]).get("/api/auth/jwt/tokens").status_code
    refresh = api_client.post(
        "/api/auth/jwt/refresh", {"refreshToken": pair["refreshToken"]}, format="json"
    ).status_code
    return access, refresh


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(username="root", password="root-pass-123")


def test_a_password_change_in_the_django_admin_ends_the_users_sessions(
    staff_user, superuser, api_client
):
    pair = login(api_client, "operator", STAFF_PASSWORD)
    admin = Client()
    admin.force_login(superuser)
    changed = admin.post(
        f"/django-admin/auth/user/{staff_user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert changed.status_code == 302, changed.content[:500]
    assert _still_valid(api_client, pair) == (401, 401)
    assert login(api_client, "operator", NEW_PASSWORD)["token"]


def test_the_changepassword_command_ends_the_users_sessions(staff_user, api_client, monkeypatch):
    pair = login(api_client, "operator", STAFF_PASSWORD)
    monkeypatch.setattr(
        "django.contrib.auth.management.commands.changepassword.getpass.getpass",
        lambda prompt="": NEW_PASSWORD,
    )
    call_command("changepassword", "operator", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert _still_valid(api_client, pair) == (401, 401)


def test_set_password_anywhere_ends_every_session_of_that_user_only(
    staff_user, reader_user, api_client
):
    first = login(api_client, "operator", STAFF_PASSWORD)
    second = login(api_client, "operator", STAFF_PASSWORD)
    other = login(api_client, "reader", "reader-pass-123")
    staff_user.set_password(NEW_PASSWORD)
    staff_user.save()
    assert _still_valid(api_client, first) == (401, 401)
    assert _still_valid(api_client, second) == (401, 401)
    assert bearer(other["token"]).get("/api/auth/jwt/tokens").status_code == 200
    revoked = IssuedToken.objects.filter(user=staff_user)
    assert {row.status for row in revoked} == {TokenStatus.REVOKED}
    assert {row.revoke_reason for row in revoked} == {"Password changed"}


def test_a_deactivation_ends_the_sessions_for_good(staff_user, api_client):
    pair = login(api_client, "operator", STAFF_PASSWORD)
    staff_user.is_active = False
    staff_user.save()
    staff_user.is_active = True
    staff_user.save()
    assert _still_valid(api_client, pair) == (401, 401)
    assert IssuedToken.objects.filter(user=staff_user).first().revoke_reason == "User deactivated"


def test_removing_the_password_ends_the_sessions(staff_user, api_client):
    pair = login(api_client, "operator", STAFF_PASSWORD)
    staff_user.set_unusable_password()
    staff_user.save()
    assert _still_valid(api_client, pair) == (401, 401)


def test_other_changes_to_the_user_leave_the_sessions_alone(staff_user, api_client):
    pair = login(api_client, "operator", STAFF_PASSWORD)
    staff_user.email = "operator@example.com"
    staff_user.save()
    login(api_client, "operator", STAFF_PASSWORD)  # updates last_login
    assert bearer(pair["token"]).get("/api/auth/jwt/tokens").status_code == 200
    assert not IssuedToken.objects.filter(status=TokenStatus.REVOKED).exists()


def test_a_hash_upgraded_at_sign_in_is_not_a_password_change(staff_user, api_client):
    # staff_user's hash was made with the test settings' MD5: signing in now upgrades it.
    with override_settings(
        PASSWORD_HASHERS=[
            "django.contrib.auth.hashers.ScryptPasswordHasher",
            "django.contrib.auth.hashers.MD5PasswordHasher",
        ]
    ):
        pair = login(api_client, "operator", STAFF_PASSWORD)
        second = login(api_client, "operator", STAFF_PASSWORD)
    staff_user.refresh_from_db()
    assert staff_user.password.startswith("scrypt$")
    assert bearer(pair["token"]).get("/api/auth/jwt/tokens").status_code == 200
    assert bearer(second["token"]).get("/api/auth/jwt/tokens").status_code == 200
