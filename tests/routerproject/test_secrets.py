"""A planted secret (an instance's apiKey, secret-looking headers) never comes out in clear: not in
any management API answer, dashboard page, operations endpoint or `export_config` output, and not
in any log record, whichever handler writes it and tracebacks included."""

import io
import json
import logging
from urllib.parse import urlencode

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.test import Client

from configversions.selectors import live_snapshot, version_list
from configversions.services import configuration_seed
from routing import services
from routing.models import ServiceInstance

pytestmark = pytest.mark.django_db

API_KEY = "sk-planted-0123456789abcdefXYZ"
HEADER_KEY = "hdr-planted-9876543210"
HEADER_TOKEN = "tok-planted-5555555555"
SECRETS = ("planted-0123456789", "planted-9876543210", "planted-5555555555")
BASE_URL = "http://ollama:11434"


def assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{where} shows {secret} in clear"


@pytest.fixture
def planted(seeded):
    services.instance_add(
        service_type="chat",
        name="qwen2:7b",
        base_url=BASE_URL,
        api_key=API_KEY,
        headers={"X-Api-Key": HEADER_KEY, "Authorization": f"Bearer {HEADER_TOKEN}", "X-Team": "a"},
        actor=None,
    )
    # A second version whose diff against the first touches the secrets.
    services.instance_update(
        service_type="chat", instance_id=f"qwen2:7b@{BASE_URL}", actor=None, weight=2
    )
    return ServiceInstance.objects.get(name="qwen2:7b")


@pytest.fixture
def seeded(db):
    return configuration_seed()


def api_urls() -> list[str]:
    numbers = [v.number for v in version_list()]
    query = urlencode({"modelName": "qwen2:7b", "baseUrl": BASE_URL})
    return [
        "/api/config/type",
        "/api/config/type/services",
        "/api/config/type/services/chat",
        "/api/config/type/chat/models",
        "/api/config/instance/type/chat",
        f"/api/config/instance/info/chat?{query}",
        "/api/models",
        "/api/config/version",
        *(f"/api/config/version/{n}" for n in numbers),
        f"/api/config/version/{numbers[0]}/diff/{numbers[-1]}",
        "/api/monitoring/config",
        "/api/monitoring/config/snapshot",
        "/api/monitoring/overview",
        "/api/monitoring/health",
        "/api/monitoring/circuit-breaker/stats",
        "/api/monitoring/errors/stats",
    ]


def test_no_management_api_answer_shows_a_secret(planted, staff_client):
    for url in api_urls():
        response = staff_client.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        assert_no_secret(url, response.content.decode())
    shown = staff_client.get(api_urls()[5]).json()["data"]
    assert shown["apiKey"] == "sk-…fXYZ"
    assert shown["headers"]["X-Team"] == "a", "headers that are not secrets stay readable"
    answer = staff_client.post(
        "/api/config/instance/add/chat",
        {"name": "m2", "baseUrl": "http://vllm:8000", "apiKey": API_KEY},
        format="json",
    )
    assert answer.status_code == 201
    assert_no_secret("instance add", answer.content.decode())


def test_no_operations_endpoint_shows_a_secret(planted, settings):
    settings.TINY_DANCER_AUTH_TOKEN = "t" * 40
    client = Client(headers={"authorization": "Bearer " + "t" * 40})
    for url in ("/info", "/metrics", "/health/ready", "/admin/config", "/admin/circuit-breaker"):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert_no_secret(url, response.content.decode())


def test_no_dashboard_page_shows_a_secret(planted, staff_user):
    client = Client()
    client.force_login(staff_user)
    numbers = [v.number for v in version_list()]
    pages = [
        "/dashboard/overview/",
        "/dashboard/overview.json",
        "/dashboard/services/",
        "/dashboard/services/chat/instances/edit/?" + urlencode({"id": planted.instance_id}),
        "/dashboard/versions/",
        f"/dashboard/versions/?a={numbers[0]}&b={numbers[-1]}",
        "/dashboard/router/",
        "/dashboard/monitoring/",
        "/dashboard/security/",
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert_no_secret(page, response.content.decode())


def test_export_config_masks_secrets_unless_asked(planted, capsys, tmp_path):
    call_command("export_config", "--format", "json")
    exported = capsys.readouterr().out
    assert_no_secret("export_config", exported)
    instance = json.loads(exported)["services"]["chat"]["instances"][0]
    assert instance["apiKey"] == "sk-…fXYZ" and instance["headers"]["X-Team"] == "a"

    path = tmp_path / "masked.yaml"
    call_command("export_config", "--out", str(path))
    assert_no_secret("export_config --out", path.read_text())

    backup = tmp_path / "backup.yaml"
    call_command("export_config", "--out", str(backup), "--include-secrets")
    assert (backup.stat().st_mode & 0o777) == 0o600
    assert API_KEY in backup.read_text()


def test_a_masked_export_imported_back_keeps_the_stored_secrets(planted, tmp_path):
    before = live_snapshot()
    path = tmp_path / "masked.yaml"
    call_command("export_config", "--out", str(path))
    content = yaml.safe_load(path.read_text())
    content["services"]["chat"]["instances"][0]["weight"] = 5
    path.write_text(yaml.safe_dump(content))
    call_command("import_config", str(path))
    instance = ServiceInstance.objects.get(pk=planted.pk)
    assert instance.weight == 5
    assert instance.api_key == API_KEY
    assert instance.headers["X-Api-Key"] == HEADER_KEY
    assert live_snapshot() != before


def test_a_masked_secret_for_an_instance_without_one_is_refused(planted, tmp_path):
    path = tmp_path / "masked.yaml"
    call_command("export_config", "--out", str(path))
    content = yaml.safe_load(path.read_text())
    content["services"]["chat"]["instances"][0]["baseUrl"] = "http://elsewhere:11434"
    path.write_text(yaml.safe_dump(content))
    versions = [v.number for v in version_list()]
    with pytest.raises(CommandError, match=r"instances\[qwen2:7b@http://elsewhere:11434\]\.apiKey"):
        call_command("import_config", str(path))
    assert [v.number for v in version_list()] == versions
    assert ServiceInstance.objects.get(pk=planted.pk).api_key == API_KEY


# --- logs


@pytest.fixture
def server_log():
    """A logger like gunicorn's and Celery's: its own handler, not propagating to Django's."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.server.error")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_log_records_are_masked_whichever_handler_writes_them(server_log, caplog):
    logger, stream = server_log
    logger.warning("upstream %s answered for key %s", BASE_URL, API_KEY)
    logger.warning(
        "headers: {'x-api-key': '%s', 'authorization': 'Bearer %s'}", HEADER_KEY, HEADER_TOKEN
    )
    logger.warning("state at redis://:%s@redis:6379/0", HEADER_KEY)
    try:
        raise RuntimeError(f"refused with Authorization: Bearer {HEADER_TOKEN}")
    except RuntimeError:
        logger.exception("call failed")
        logging.getLogger("routing").exception("call failed")
    written = stream.getvalue()
    assert "RuntimeError: refused with Authorization: [masked]" in written
    assert "redis://:[masked]@redis:6379/0" in written
    assert_no_secret("a server's own log handler", written)
    assert_no_secret("Django's log handlers", caplog.text)
    assert "Traceback" in caplog.text


def test_an_unhandled_error_logs_and_answers_without_the_secret(
    planted, staff_client, caplog, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError(f"could not reach {BASE_URL} with api_key={API_KEY}")

    monkeypatch.setattr("routing.api.views.services.instance_update", broken)
    response = staff_client.put(
        "/api/config/instance/update/chat",
        {"instanceId": planted.instance_id, "instance": {"weight": 3}},
        format="json",
    )
    assert response.status_code == 500
    assert_no_secret("the 500 answer", response.content.decode())
    assert "Unhandled error" in caplog.text and "could not reach" in caplog.text
    assert_no_secret("the error log", caplog.text)
