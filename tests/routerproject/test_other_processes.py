"""The embedded default (`manage.py serve`, SQLite, in-memory state) notices what other processes
write to its database: a configuration imported with `import_config`, an API key revoked and a
router reload made from `manage.py`, each within the live configuration's check interval."""

import json
import shutil
import sys
import time
from collections.abc import Callable

import httpx
import pytest

from tests.processes import ROOT, free_port, manage, prepare, project_env, running

pytestmark = pytest.mark.processes

# The fleet notices a change within LIVE_CONFIG_CHECK_INTERVAL (0.5 s) plus a rebuild; a process
# that never notices fails after this long (the API-key cache alone would forget after 60 s).
DEADLINE_SECONDS = 5.0

SEED = """
import os
from authjwt.services import api_key_create
from routing.services import instance_add, router_settings_update
instance_add(actor=None, service_type="chat", name="first-model", base_url=os.environ["UPSTREAM"])
router_settings_update(actor=None, model_path=os.environ["MODEL_FILE"])
print("API_KEY=" + api_key_create(name="other processes")[1])
"""
REVOKE = """
from authjwt.models import ApiKey
from authjwt.services import api_key_revoke
api_key_revoke(api_key_id=ApiKey.objects.get(name="other processes").pk, actor=None)
"""
RELOAD = "from routing.services import router_model_reload; router_model_reload()"


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    port, upstream_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}"
    env = project_env(
        DJANGO_SETTINGS_MODULE="routerproject.settings.embedded",
        DATABASE_URL=None,
        REDIS_URL=None,
        ROUTER_VAR_DIR=str(var),
        UPSTREAM=upstream,
        MODEL_FILE=str(var / "late.safetensors"),  # not there yet: the router serves no model
    )
    seeded = prepare(env, ["migrate", "--noinput"], script=SEED)
    api_key = seeded.stdout.split("API_KEY=", 1)[1].split()[0]
    base = f"http://127.0.0.1:{port}"
    serve = [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with (
        running(
            [sys.executable, "-m", "routing.fakeupstream", "--port", str(upstream_port)],
            env=env,
            ready_url=f"{upstream}/health",
        ),
        running(serve, env=env, ready_url=f"{base}/health"),
    ):
        yield base, api_key, env, var


def chat(base: str, api_key: str, model: str) -> int:
    return httpx.post(
        f"{base}/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=10,
    ).status_code


def within_deadline(check: Callable[[], bool]) -> float:
    """Seconds until `check` held; fails after DEADLINE_SECONDS."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < DEADLINE_SECONDS, "never noticed"
        time.sleep(0.1)
    return time.monotonic() - started


def test_an_instance_imported_by_another_process_answers(embedded):
    base, api_key, env, var = embedded
    assert chat(base, api_key, "first-model") == 200
    assert chat(base, api_key, "late-model") == 404
    exported = manage("export_config", "--format", "json", env=env)
    assert exported.returncode == 0, exported.stderr
    snapshot = json.loads(exported.stdout)
    chat_service = snapshot["services"]["chat"]
    late = {**chat_service["instances"][0], "name": "late-model"}
    chat_service["instances"].append(late)
    (var / "config.json").write_text(json.dumps(snapshot))
    imported = manage("import_config", str(var / "config.json"), env=env)
    assert imported.returncode == 0, imported.stderr
    within_deadline(lambda: chat(base, api_key, "late-model") == 200)


def test_an_api_key_revoked_by_another_process_is_refused(embedded):
    base, api_key, env, _ = embedded
    assert chat(base, api_key, "first-model") == 200  # cached by the server now
    revoked = manage("shell", "-c", REVOKE, env=env)
    assert revoked.returncode == 0, revoked.stderr
    within_deadline(lambda: chat(base, api_key, "first-model") == 401)


def test_a_router_reload_by_another_process_reaches_the_server(embedded):
    base, _, env, var = embedded

    def model_loaded() -> bool:
        return bool(httpx.get(f"{base}/health/ready").json()["model_loaded"])

    assert not model_loaded()
    shutil.copy(ROOT / "models" / "fastgrnn.safetensors", var / "late.safetensors")
    shutil.copy(
        ROOT / "models" / "fastgrnn.exemplars.safetensors", var / "late.exemplars.safetensors"
    )
    reloaded = manage("shell", "-c", RELOAD, env=env)
    assert reloaded.returncode == 0, reloaded.stderr
    within_deadline(model_loaded)
