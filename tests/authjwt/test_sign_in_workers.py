"""Sign-in hardening in the production shape: two gunicorn (uvicorn) workers on PostgreSQL and Redis,
behind a trusted proxy (each test picks its client address with X-Forwarded-For). Requests go out
on new connections, so they spread over both workers."""

import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from django.conf import settings

from tests.backends import fresh_postgres_database, postgres_url, redis_url
from tests.processes import (
    bytes_read,
    free_port,
    gunicorn_command,
    prepare,
    project_env,
    running,
    worker_pids,
)

pytestmark = [pytest.mark.processes, pytest.mark.postgres, pytest.mark.redis]

ADMIN_PASSWORD = "workers-admin-" + secrets.token_hex(6)
GUESSED_PASSWORD = "workers-guessed-" + secrets.token_hex(6)
VICTIM_PASSWORD = "workers-victim-" + secrets.token_hex(6)
LIMIT = 4


@dataclass
class Gateway:
    url: str
    arbiter_pid: int
    env: dict[str, str]
    victim_id: int

    def workers(self) -> list[int]:
        return worker_pids(self.arbiter_pid)

    def request(self, method: str, path: str, address: str, **kwargs) -> httpx.Response:
        """On a new connection, as the client at `address` behind the proxy."""
        headers = {"x-forwarded-for": address, **kwargs.pop("headers", {})}
        with httpx.Client(base_url=self.url, timeout=10) as client:
            return client.request(method, path, headers=headers, **kwargs)


def _create_user(username: str, password: str) -> str:
    """Script lines that create a staff user and print `USER <username> <id>`."""
    return (
        "from django.contrib.auth.models import User\n"
        f"user = User.objects.create_user({username!r}, password={password!r}, is_staff=True)\n"
        f"print('USER', {username!r}, user.pk)\n"
    )


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> Iterator[Gateway]:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql" or (
        settings.STATE_BACKEND != "redis"
    ):
        pytest.skip("two workers on PostgreSQL and Redis: this runs in the services pass")
    with fresh_postgres_database(postgres_url(), label="signin") as database_url:
        env = project_env(
            DJANGO_SETTINGS_MODULE="routerproject.settings.embedded",
            DATABASE_URL=database_url,
            REDIS_URL=redis_url(),
            STATE_KEY_PREFIX=f"test-signin:{uuid.uuid4().hex}:",
            ROUTER_VAR_DIR=str(tmp_path_factory.mktemp("signin")),
            DJANGO_SUPERUSER_USERNAME="admin",
            DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
            JWT_LOGIN_ATTEMPTS_PER_MINUTE=str(LIMIT),
            GATEWAY_TRUSTED_PROXIES="127.0.0.1/32",
            LOG_LEVEL="WARNING",
        )
        # The sign-in pages need the collected static files (the production storage's manifest).
        prepared = prepare(
            env,
            ["migrate", "--noinput"],
            ["collectstatic", "--noinput", "--verbosity", "0"],
            ["ensure_admin"],
            script=_create_user("guessed", GUESSED_PASSWORD)
            + _create_user("victim", VICTIM_PASSWORD),
        )
        victim_id = int(prepared.stdout.split("USER victim ", 1)[1].split()[0])
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with running(
            gunicorn_command(port, workers=2), env=env, ready_url=f"{base}/health"
        ) as arbiter:
            gateway = Gateway(base, arbiter.pid, env, victim_id)
            assert len(gateway.workers()) == 2
            yield gateway


def _on_both_workers(gateway: Gateway, send: Callable[[], httpx.Response]) -> list[int]:
    """The statuses of `send()` called until both workers have served (and at least 10 times)."""
    workers = gateway.workers()
    before = {pid: bytes_read(pid) for pid in workers}
    answers = []
    while len(answers) < 10 or not all(bytes_read(pid) > before[pid] for pid in workers):
        answers.append(send())
        assert len(answers) < 200, "the requests never reached both workers"
    for answer in answers:
        if answer.status_code == 429:
            assert 1 <= int(answer.headers["retry-after"]) <= 60
    return [answer.status_code for answer in answers]


def _fresh_window(seconds_needed: float) -> None:
    """The workers count in wall-clock minutes, which a test in other processes cannot move: start
    at the beginning of a minute rather than let the window end halfway through the test."""
    left = 60 - time.time() % 60
    if left < seconds_needed:
        time.sleep(left + 0.05)


def _post_form(client: httpx.Client, path: str, fields: dict[str, str]) -> httpx.Response:
    """GET the form's page for its CSRF token, then POST the fields with it."""
    page = client.get(path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    return client.post(path, data={**fields, "csrfmiddlewaretoken": token[1]})


def _form_sign_in(gateway: Gateway, path: str, username: str, password: str, address: str) -> str:
    headers = {"x-forwarded-for": address}
    with httpx.Client(base_url=gateway.url, timeout=10, headers=headers) as client:
        answer = _post_form(client, path, {"username": username, "password": password})
    if answer.status_code == 302:
        return "ok"
    assert answer.status_code == 200, answer.text[:500]
    return "throttled" if "Too many failed sign-in attempts" in answer.text else "refused"


def test_password_guesses_spread_over_workers_are_throttled_together(gateway):
    _fresh_window(seconds_needed=30)
    guesser = "198.51.100.20"
    guesses = iter(range(1000))

    def guess() -> httpx.Response:
        auth = ("guessed", f"guess-{next(guesses)}")
        return gateway.request("GET", "/api/auth/jwt/tokens", guesser, auth=auth)

    statuses = _on_both_workers(gateway, guess)
    assert statuses == [401] * LIMIT + [429] * (len(statuses) - LIMIT)

    # The right password, from the guessing address or another one, on every worker: refused.
    for address in (guesser, "198.51.100.21"):
        right = ("guessed", GUESSED_PASSWORD)
        statuses = _on_both_workers(
            gateway,
            lambda a=address, r=right: gateway.request("GET", "/api/auth/jwt/tokens", a, auth=r),
        )
        assert set(statuses) == {429}
    login = gateway.request(
        "POST",
        "/api/auth/jwt/login",
        "198.51.100.22",
        json={"username": "guessed", "password": GUESSED_PASSWORD},
    )
    assert login.status_code == 429 and login.json()["errorCode"] == "RATE_LIMITED"
    for path in ("/dashboard/login/", "/django-admin/login/"):
        assert _form_sign_in(gateway, path, "guessed", GUESSED_PASSWORD, "198.51.100.23") == (
            "throttled"
        )
    # Another user from another address is not concerned.
    other = gateway.request(
        "GET", "/api/auth/jwt/tokens", "198.51.100.24", auth=("admin", ADMIN_PASSWORD)
    )
    assert other.status_code == 200


def test_a_password_change_in_the_django_admin_ends_the_sessions_on_every_worker(gateway):
    address = "198.51.100.30"
    credentials = {"username": "victim", "password": VICTIM_PASSWORD}
    pair = gateway.request("POST", "/api/auth/jwt/login", address, json=credentials).json()["data"]
    bearer = {"authorization": f"Bearer {pair['token']}"}

    def with_old_token() -> httpx.Response:
        return gateway.request("GET", "/api/auth/jwt/tokens", address, headers=bearer)

    assert set(_on_both_workers(gateway, with_old_token)) == {200}

    new_password = "workers-changed-" + secrets.token_hex(6)
    headers = {"x-forwarded-for": "198.51.100.31"}
    with httpx.Client(base_url=gateway.url, timeout=10, headers=headers) as admin:
        signed_in = _post_form(
            admin, "/django-admin/login/", {"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert signed_in.status_code == 302, signed_in.text[:500]
        changed = _post_form(
            admin,
            f"/django-admin/auth/user/{gateway.victim_id}/password/",
            {"password1": new_password, "password2": new_password, "usable_password": "true"},
        )
        assert changed.status_code == 302, changed.text[:500]

    # At once, on both workers: the old access token is refused and the refresh token mints nothing.
    assert set(_on_both_workers(gateway, with_old_token)) == {401}
    refresh = gateway.request(
        "POST", "/api/auth/jwt/refresh", address, json={"refreshToken": pair["refreshToken"]}
    )
    assert refresh.status_code == 401
    credentials["password"] = new_password
    assert gateway.request("POST", "/api/auth/jwt/login", address, json=credentials).is_success
