"""PostgreSQL cut off behind a TCP proxy the test controls, under two gunicorn workers.

/v1 keeps answering from each worker's live snapshot and cached keys (no query on the hot path: any
would fail). /api answers 503 in the envelope, for writes and reads; a write cut in the middle of its
transaction leaves nothing behind, and once the link is back the configuration and its version
history are exactly what they were, and writes work again.
"""

import time
import uuid
from urllib.parse import urlsplit

import httpx
import pytest

from routerproject.state import RedisState
from tests.processes import bytes_read
from tests.reliability.services import TcpProxy, database_url
from tests.reliability.stack import PASSWORD, Gateway, gateway

pytestmark = [pytest.mark.processes, pytest.mark.redis, pytest.mark.postgres]

NEW_INSTANCE = {"name": "qwen2:7b", "baseUrl": "http://gpu-9.internal:8000", "weight": 1}
# The statement that records the configuration version: sent by every configuration write, after
# its own changes, inside the same transaction.
VERSION_INSERT = b'INSERT INTO "configversions_configversion"'


def plan(upstream: str) -> dict:
    return {
        "services": [{"name": "chat", "load_balancer": "round_robin"}],
        "instances": [
            {"service_type": "chat", "name": "fake-chat", "base_url": upstream},
            {"service_type": "chat", "name": "fake-chat", "base_url": upstream + "/v1"},
        ],
    }


@pytest.fixture
def proxy(gateway_database):
    target = urlsplit(gateway_database)
    server = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    yield server
    server.close()


def configuration(gw: Gateway, token: str) -> tuple[dict, list[int], int]:
    """(every service type with its instances, the version numbers, the current version)."""
    answers = [
        gw.api("GET", path, token)
        for path in ("/api/config/type", "/api/config/version", "/api/config/version/current")
    ]
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    data = [a.json()["data"] for a in answers]
    return data[0], data[1], data[2]


def assert_unavailable(answer) -> None:
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["success"] is False and body["errorCode"] == "SERVICE_UNAVAILABLE"
    assert answer.headers["retry-after"] == "5"
    assert "Traceback" not in answer.text and "5432" not in answer.text


def assert_page_unavailable(gw: Gateway) -> None:
    """Signing in to the dashboard needs the database: a 503 page that says so, no traceback."""
    with httpx.Client(base_url=gw.url, timeout=15) as browser:
        form = browser.get("/dashboard/login/")  # the form itself needs no database
        assert form.status_code == 200
        answer = browser.post(
            "/dashboard/login/",
            data={
                "username": "admin",
                "password": PASSWORD,
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            },
            headers={"Referer": f"{gw.url}/dashboard/login/"},
        )
    assert answer.status_code == 503, answer.text[:500]
    assert "The database is unavailable" in answer.text
    assert answer.headers["retry-after"] == "5"
    assert "Traceback" not in answer.text and "5432" not in answer.text


def test_v1_serves_from_its_snapshot_and_api_fails_cleanly_without_postgres(
    tmp_path, gateway_database, proxy, redis_server_url
):
    prefix = f"test-faults-{uuid.uuid4().hex}:"
    with gateway(
        tmp_path,
        database_url=database_url(gateway_database, port=proxy.port),
        redis_url=redis_server_url,
        plan=plan,
        STATE_KEY_PREFIX=prefix,
    ) as gw:
        operator = gw.login()["token"]
        # Every worker builds its snapshot and caches the client's key before the cut.
        workers = gw.workers()
        before_reads = {pid: bytes_read(pid) for pid in workers}
        assert [gw.chat().status_code for _ in range(16)] == [200] * 16
        assert all(bytes_read(pid) > before_reads[pid] for pid in workers)
        before = configuration(gw, operator)

        proxy.cut_on(VERSION_INSERT)
        assert_unavailable(
            gw.api("POST", "/api/config/instance/add/chat", operator, json=NEW_INSTANCE)
        )
        assert proxy.is_cut, "the write was cut mid-transaction"

        streamed = [gw.chat(stream=True) for _ in range(8)]
        plain = [gw.chat() for _ in range(16)]
        assert [a.status_code for a in streamed + plain] == [200] * 24
        assert all(a.content.rstrip().endswith(b"data: [DONE]") for a in streamed)
        assert_unavailable(
            gw.api("POST", "/api/config/instance/add/chat", operator, json=NEW_INSTANCE)
        )
        assert_unavailable(gw.api("GET", "/api/config/version", operator))
        assert_unavailable(gw.api("GET", "/api/config/type/services", operator))
        credentials = {"username": "admin", "password": PASSWORD}
        assert_unavailable(gw.api("POST", "/api/auth/jwt/login", None, json=credentials))
        assert gw.api("GET", "/health", None).status_code == 200, "liveness touches no database"
        assert_page_unavailable(gw)

        proxy.restore()
        deadline = time.monotonic() + 15
        while gw.api("GET", "/api/config/version", operator).status_code != 200:
            assert time.monotonic() < deadline, "the API did not come back"
            time.sleep(0.1)
        assert configuration(gw, operator) == before, "the cut write left something behind"
        added = gw.api("POST", "/api/config/instance/add/chat", operator, json=NEW_INSTANCE)
        assert added.status_code == 201, added.text
        after = configuration(gw, operator)
        assert after[1] == [*before[1], before[2] + 1] and after[2] == before[2] + 1
        assert gw.chat().status_code == 200
    RedisState(redis_server_url, prefix=prefix).clear()
