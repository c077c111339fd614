"""`make run`'s path end to end: migrate, collect static, first admin, then the real ASGI server."""

import json
import re
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from tests.processes import ROOT, free_port, prepare, project_env, running, wait_for_http

pytestmark = [pytest.mark.processes, pytest.mark.pass_independent]


@pytest.fixture(scope="module")
def serve_log(tmp_path_factory):
    """Where the embedded server's output goes."""
    return tmp_path_factory.mktemp("serve-log") / "serve.log"


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory, serve_log):
    var = tmp_path_factory.mktemp("var")
    port, upstream_port = free_port(), free_port()
    env = project_env(
        DJANGO_SETTINGS_MODULE="routerproject.settings.embedded",
        DATABASE_URL=None,
        REDIS_URL=None,
        ROUTER_VAR_DIR=str(var),
        PORT=str(port),
        HOST="127.0.0.1",
        DJANGO_SUPERUSER_PASSWORD=None,
    )
    upstream = f"http://127.0.0.1:{upstream_port}"
    # `make run`'s steps, in one Django process; the database is migrated from nothing.
    steps = prepare(
        env,
        ["migrate", "--noinput"],
        ["collectstatic", "--noinput", "--verbosity", "0"],
        ["ensure_admin"],
        ["ensure_admin"],
        ["ensure_demo_key"],
        ["ensure_demo_config", "--upstream", upstream],
        ["ensure_demo_config", "--upstream", upstream],
        copy_migrated=False,
    ).stdout
    password = re.search(r"password: (\S+)", steps).group(1)
    assert "An administrator exists" in steps
    demo_key = re.search(r"(sk-\S+)", steps).group(1)
    assert "Demo configuration" in steps
    assert "not applied" in steps
    base = f"http://127.0.0.1:{port}"
    serve = [sys.executable, "manage.py", "serve", "--demo-upstream", str(upstream_port)]
    with running(serve, env=env, ready_url=f"{base}/health", log=serve_log):
        wait_for_http(f"{upstream}/health", None)
        yield base, password, demo_key


def test_liveness_answers(embedded_server):
    base, *_ = embedded_server
    body = httpx.get(f"{base}/health").json()
    assert body["status"] == "healthy" and body["version"] and body["uptime_seconds"] >= 0


def test_api_docs_are_served_with_local_assets(embedded_server):
    base, *_ = embedded_server
    page = httpx.get(f"{base}/api/docs/")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert assets, "Swagger UI must load its assets from this server, not a CDN"
    assert "cdn." not in page.text
    for asset in assets:
        assert httpx.get(base + asset).status_code == 200, asset
    schema = httpx.get(
        f"{base}/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}
    )
    assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")


def test_django_admin_signs_in_the_first_administrator(embedded_server):
    base, password, _ = embedded_server
    with httpx.Client(base_url=base) as browser:
        login = browser.get("/django-admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        css = re.search(r'href="(/static/admin/css/[^"]+)"', login.text).group(1)
        assert browser.get(css).status_code == 200
        response = browser.post(
            "/django-admin/login/?next=/django-admin/",
            data={"username": "admin", "password": password, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base}/django-admin/login/"},
            follow_redirects=True,
        )
        assert response.status_code == 200 and "Site administration" in response.text


def test_the_log_has_no_routine_celery_lines_by_default(embedded_server, serve_log):
    """The in-process worker has run a job and beat has sent its first ones, yet Celery's INFO
    lines (job received, succeeded, beat sending) are not in the log: CELERY_LOG_LEVEL=WARNING."""
    base, password, _ = embedded_server
    deadline = time.monotonic() + 60
    while True:  # the heartbeat job, run by the in-process worker
        health = httpx.get(f"{base}/api/monitoring/health", auth=("admin", password)).json()
        if health["data"]["details"]["celery"] == "UP" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert health["data"]["details"]["celery"] == "UP", health
    text = serve_log.read_text()
    assert "INFO uvicorn.error Started server process" in text  # the log of this server
    assert not re.search(r" INFO celery[.\s]", text), text


def test_metrics_are_exported(embedded_server):
    base, *_ = embedded_server
    response = httpx.get(f"{base}/metrics")
    assert response.status_code == 200
    assert "django_http_requests_total_by_method_total" in response.text


def test_the_seeds_address_variables_set_the_bind_address():
    code = "import django; from django.conf import settings; django.setup(); print(settings.BIND_HOST, settings.BIND_PORT)"

    def bind(**env):
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=project_env(**{"HOST": None, "PORT": None, **env}),
            timeout=60,
            check=True,
        )
        return result.stdout.split()

    assert bind() == ["127.0.0.1", "8080"]
    assert bind(TINY_DANCER_BIND_ADDRESS="0.0.0.0", TINY_DANCER_PORT="9191") == ["0.0.0.0", "9191"]
    assert bind(HOST="::1", PORT="7000", TINY_DANCER_PORT="9191") == ["::1", "7000"]


def test_the_management_api_documents_examples_work(embedded_server):
    """The seed's cURL/Python/JavaScript examples, with the administrator's credentials added."""
    base, password, _ = embedded_server
    with httpx.Client(base_url=base, auth=("admin", password)) as api:
        types = api.get("/api/config/type/services").json()
        assert types["success"] and "chat" in types["data"]
        instance = {
            "name": "llama3:8b",
            "baseUrl": "http://localhost:8001",
            "apiKey": "sk-test",
            "weight": 1,
            "enabled": True,
            "adapter": "ollama",
        }
        added = api.post("/api/config/instance/add/chat", json=instance)
        assert added.status_code == 201 and added.json()["data"]["apiKey"] != "sk-test"
        models = api.get("/api/models").json()["data"]["data"]
        assert "llama3:8b" in [m["id"] for m in models]
        service = api.get("/api/config/type/services/chat").json()["data"]
        assert "llama3:8b" in [i["name"] for i in service["instances"]]
        assert api.get("/api/config/version/current").json()["data"] >= 2
    assert httpx.get(f"{base}/api/config/type/services").status_code == 401


def test_the_first_curl_gets_an_answer_from_the_demo_backend(embedded_server):
    """`make run`'s promise: the printed key and a demo model answer, streaming too, via the SDK."""
    import openai

    base, _, demo_key = embedded_server
    sdk = openai.OpenAI(base_url=f"{base}/v1", api_key=demo_key, max_retries=0)
    assert "demo-chat" in {m.id for m in sdk.models.list()}
    answer = sdk.chat.completions.create(
        model="demo-chat", messages=[{"role": "user", "content": "hello"}]
    )
    assert answer.choices[0].message.content
    chunks = sdk.chat.completions.create(
        model="demo-chat", messages=[{"role": "user", "content": "hello"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    routed = sdk.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hello"}]
    )
    assert routed.headers["x-router-decision"] in ("lightweight", "powerful")
    refused = httpx.post(f"{base}/v1/chat/completions", json={"model": "demo-chat"})
    assert refused.status_code == 401


# The README's client sections, as written there, against `make run`'s demo configuration.


def test_the_readme_openai_responses_example_works(embedded_server):
    import openai

    base, _, demo_key = embedded_server
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=demo_key, max_retries=0)
    first = client.responses.create(model="demo-chat", input="Say hi.", instructions="Be brief.")
    assert first.output_text
    follow_up = client.responses.create(
        model="demo-chat", input="And again.", previous_response_id=first.id
    )
    assert follow_up.output_text and follow_up.previous_response_id == first.id
    weather = {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    called = client.responses.create(model="demo-chat", input="Weather in Paris?", tools=[weather])
    call = next(item for item in called.output if item.type == "function_call")
    answered = client.responses.create(
        model="demo-chat",
        previous_response_id=called.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
    )
    assert answered.output_text
    with client.responses.stream(model="demo-chat", input="Say hi.") as stream:
        streamed = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
    assert streamed == first.output_text


def test_the_readme_anthropic_example_works(embedded_server):
    import anthropic

    base, _, demo_key = embedded_server
    client = anthropic.Anthropic(base_url=base, api_key=demo_key, max_retries=0)
    for model in ("demo-chat", "claude-haiku-4-5"):  # translated, then passed through
        message = client.messages.create(
            model=model, max_tokens=256, messages=[{"role": "user", "content": "Say hi."}]
        )
        assert message.content[0].text and message.stop_reason == "end_turn"
    with client.messages.stream(
        model="claude-haiku-4-5", max_tokens=256, messages=[{"role": "user", "content": "Say hi."}]
    ) as stream:
        assert "".join(stream.text_stream) == message.content[0].text
    counted = client.messages.count_tokens(
        model="demo-chat", messages=[{"role": "user", "content": "Say hi."}]
    )
    assert counted.input_tokens >= 1


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_curl_examples_work(embedded_server):
    base, _, demo_key = embedded_server
    responses = subprocess.run(
        [
            "curl",
            "-s",
            f"{base}/v1/responses",
            "-H",
            f"Authorization: Bearer {demo_key}",
            "-H",
            "Content-Type: application/json",
            "-d",
            '{"model": "demo-chat", "input": "hi"}',
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert json.loads(responses.stdout)["output"][0]["content"][0]["text"]
    messages = subprocess.run(
        [
            "curl",
            "-s",
            f"{base}/v1/messages",
            "-H",
            f"x-api-key: {demo_key}",
            "-H",
            "anthropic-version: 2023-06-01",
            "-H",
            "Content-Type: application/json",
            "-d",
            '{"model": "demo-chat", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}',
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert json.loads(messages.stdout)["content"][0]["text"]


def test_the_readme_langchain_examples_work(embedded_server):
    from langchain_anthropic import ChatAnthropic
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    base, _, demo_key = embedded_server

    @tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return "sunny"

    responses = ChatOpenAI(
        model="demo-chat", base_url=f"{base}/v1", api_key=demo_key, use_responses_api=True
    )
    assert responses.invoke("Say hi.").text
    called = responses.bind_tools([get_weather]).invoke("Weather in Paris?")
    assert called.tool_calls[0]["name"] == "get_weather"
    claude = ChatAnthropic(model="demo-chat", base_url=base, api_key=demo_key, max_tokens=256)
    assert claude.invoke("Say hi.").text
    assert "".join(chunk.text for chunk in claude.stream("Say hi."))
    called = claude.bind_tools([get_weather]).invoke("Weather in Paris?")
    assert called.tool_calls[0]["name"] == "get_weather"


def test_a_key_with_a_budget_is_refused_once_it_is_spent(embedded_server):
    """Issue-level check on `make run`: a $0.001 budget against a priced instance; a stream whose
    client asked no usage is counted all the same, and the key shows what it used."""
    import openai

    base, password, _ = embedded_server
    with httpx.Client(base_url=base, auth=("admin", password)) as api:
        chat = api.get("/api/config/type/services/chat").json()["data"]
        demo = next(i for i in chat["instances"] if i["name"] == "demo-chat")
        assert demo["inputCostPerMillionTokens"] == 0.15
        priced = {
            "name": "premium-chat",
            "baseUrl": demo["baseUrl"],
            "inputCostPerMillionTokens": 30.0,
            "outputCostPerMillionTokens": 60.0,
        }
        assert api.post("/api/config/instance/add/chat", json=priced).status_code == 201
        created = api.post("/api/auth/api-keys", json={"name": "budgeted", "maxBudget": 0.001})
        key_id, key = created.json()["data"]["id"], created.json()["data"]["key"]
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)
        hi = [{"role": "user", "content": "hi"}]
        # 7 and 16 tokens at $30 and $60 per million: $0.00117, over the budget at once.
        chunks = list(
            client.chat.completions.create(model="premium-chat", messages=hi, stream=True)
        )
        assert all(chunk.usage is None for chunk in chunks)
        for _ in range(20):  # its spend is added just after the answer
            try:
                client.chat.completions.create(model="premium-chat", messages=hi)
            except openai.RateLimitError as refused:
                assert refused.code == "insufficient_quota"
                break
        else:
            pytest.fail("the key was never refused")
        usage = api.get(f"/api/auth/api-keys/{key_id}").json()["data"]["usage"]
        assert usage["promptTokens"] >= 7 and usage["completionTokens"] >= 16
        assert usage["spend"] >= 0.001
        # The request history, written by the server's own writer thread every 2 s.
        streamed = None
        for _ in range(100):
            rows = api.get("/api/requests", params={"key": "budgeted"}).json()["data"]["content"]
            streamed = next((r for r in rows if r["firstByteMs"] is not None), None)
            if streamed is not None:
                break
            time.sleep(0.1)  # another process's clock: nothing to inject
        assert streamed is not None, "the stream's row was never written"
        assert (streamed["promptTokens"], streamed["completionTokens"]) == (7, 16)
        assert streamed["cost"] == pytest.approx((7 * 30 + 16 * 60) / 1e6)
        assert not streamed["usageEstimated"]
        by_key = api.get("/api/usage", params={"groupBy": "key"}).json()["data"]["groups"]
        spent = next(g for g in by_key if g["name"] == "budgeted")
        assert spent["cost"] >= streamed["cost"] and spent["completionTokens"] >= 16
