"""Revocation is immediate on every worker: two gunicorn (uvicorn) workers, with Redis answering and
with Redis unreachable (the database then answers)."""

import uuid
from pathlib import Path

import httpx
import pytest

from tests.processes import (
    bytes_read,
    free_port,
    gunicorn_command,
    prepare,
    project_env,
    running,
    worker_pids,
)

pytestmark = [pytest.mark.processes, pytest.mark.pass_independent]

PASSWORD = "worker-test-pass-123"


def _gateway_env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    return project_env(
        DJANGO_SETTINGS_MODULE="routerproject.settings.embedded",
        DATABASE_URL=f"sqlite:///{tmp_path / 'gateway.sqlite3'}",
        ROUTER_VAR_DIR=str(tmp_path),
        REDIS_URL=redis_url,
        STATE_KEY_PREFIX=f"test-revocation:{uuid.uuid4().hex}:",
        DJANGO_SUPERUSER_USERNAME="admin",
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
    )


def _get(base: str, token: str) -> int:
    # A new connection each time, so that requests spread over the workers.
    with httpx.Client(base_url=base, timeout=10) as client:
        return client.get(
            "/api/auth/jwt/tokens", headers={"Authorization": f"Bearer {token}"}
        ).status_code


def _scenario(env: dict[str, str]) -> None:
    prepare(env, ["migrate", "--noinput"], ["ensure_admin"])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(gunicorn_command(port, workers=2), env=env, ready_url=f"{base}/health") as arbiter:
        with httpx.Client(base_url=base, timeout=10) as client:
            login = client.post(
                "/api/auth/jwt/login", json={"username": "admin", "password": PASSWORD}
            )
            assert login.status_code == 200, login.text
            victim = login.json()["data"]
            operator = client.post(
                "/api/auth/jwt/login", json={"username": "admin", "password": PASSWORD}
            ).json()["data"]

        workers = worker_pids(arbiter.pid)
        assert len(workers) == 2
        before = {pid: bytes_read(pid) for pid in workers}
        assert [_get(base, victim["token"]) for _ in range(40)] == [200] * 40
        grew = [pid for pid in workers if bytes_read(pid) > before[pid]]
        assert grew == workers, "both workers must have served the token before it is revoked"

        with httpx.Client(base_url=base, timeout=10) as client:
            revoked = client.post(
                f"/api/auth/jwt/tokens/{victim['tokenId']}/revoke",
                json={"reason": "test"},
                headers={"Authorization": f"Bearer {operator['token']}"},
            )
        assert revoked.status_code == 200, revoked.text

        assert [_get(base, victim["token"]) for _ in range(20)] == [401] * 20
        # The other session is untouched.
        assert _get(base, operator["token"]) == 200


def test_a_revoked_token_is_refused_by_every_worker_with_redis(redis_server_url, tmp_path):
    _scenario(_gateway_env(tmp_path, redis_server_url))


def test_a_revoked_token_is_refused_by_every_worker_with_redis_unreachable(tmp_path):
    # Nothing listens on port 1: every shared-state call fails and the database must answer.
    _scenario(_gateway_env(tmp_path, "redis://127.0.0.1:1/0"))
