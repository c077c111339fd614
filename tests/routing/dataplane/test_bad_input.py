"""Bad input on /v1, end to end: gunicorn with uvicorn workers in front of the simulated upstream.

Every bad request gets a 4xx in OpenAI's error shape naming what is wrong, and the upstream's own
request counter proves that nothing was sent to it. Members the upstream owns stay unchecked."""

import json
import socket
import time

import httpx
import pytest

from tests.routing.dataplane.gateway import gateway_stack

pytestmark = pytest.mark.processes

BODY_LIMIT = 4 * 1024 * 1024  # above Django's 2.5 MB DATA_UPLOAD_MAX_MEMORY_SIZE on purpose
CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    settings = {"GATEWAY_MAX_BODY_BYTES": str(BODY_LIMIT), "GATEWAY_MAX_OUTPUT_TOKENS": "100000"}
    with gateway_stack(
        tmp_path_factory.mktemp("bad-input-var"), workers=1, settings=settings
    ) as stack:
        yield stack


def upstream_requests(gateway) -> int:
    return httpx.get(f"{gateway.upstream}/_fake/stats").json()["requests"]


def assert_refused(gateway, response: httpx.Response, status: int, param: str | None, *words):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    for word in words:
        assert word in error["message"], error["message"]
    assert response.headers["x-request-id"]


def send(gateway, path: str, content: bytes, content_type: str = "application/json"):
    before = upstream_requests(gateway)
    response = gateway.client.post(
        f"{gateway.url}{path}", content=content, headers={"content-type": content_type}
    )
    assert upstream_requests(gateway) == before, "the upstream was called"
    return response


def chat(**members) -> bytes:
    return json.dumps({"model": "fake-chat", "messages": MESSAGES, **members}).encode()


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        (b'{"model": "fake-chat", "messages": [', None, ("not valid JSON",)),
        (b"", None, ("not valid JSON",)),
        (b'["fake-chat"]', None, ("JSON object",)),
        (b'{"model": "fake-chat", "temperature": NaN}', None, ("not valid JSON",)),
        (b'{"model": "fake-chat", "n": Infinity}', None, ("not valid JSON",)),
        (b'{"model": "fake-chat", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", None, ("deep",)),
        (b'{"model": "fake-chat", "x": ' + b"[" * 900 + b"]" * 900 + b"}", None, ("deep",)),
        (b'{"model": "auto", "x": ' + b"[" * 128 + b"]" * 128 + b"}", None, ("deep",)),
        ('{"model": "fake-chat"}'.encode("utf-16"), None, ("UTF-8",)),
        (b'{"model": "fake-chat", "messages": [{"content": "caf\xe9"}]}', None, ("UTF-8",)),
        (json.dumps({"messages": MESSAGES}).encode(), "model", ("required",)),
        (json.dumps({"model": ""}).encode(), "model", ("required",)),
        (json.dumps({"model": 42}).encode(), "model", ("string",)),
        (json.dumps({"model": None}).encode(), "model", ("string",)),
        (json.dumps({"model": ["fake-chat"]}).encode(), "model", ("string",)),
        (json.dumps({"model": "m" * 257}).encode(), "model", ("longer",)),
        (chat(messages="hi"), "messages", ("list of message objects",)),
        (chat(messages=["hi"]), "messages", ("list of message objects",)),
        (chat(stream="yes"), "stream", ("true or false",)),
        (chat(stream=1), "stream", ("true or false",)),
        (chat(stream_options="usage"), "stream_options", ("object",)),
        (chat(response_format="json"), "response_format", ("object",)),
        (chat(max_tokens=-1), "max_tokens", ("between 1 and 100000",)),
        (chat(max_tokens=0), "max_tokens", ("between 1",)),
        (chat(max_tokens=10**30), "max_tokens", ("between",)),
        (chat(max_tokens=100001), "max_tokens", ("between",)),
        (chat(max_tokens=2.5), "max_tokens", ("integer",)),
        (chat(max_tokens=100.0), "max_tokens", ("integer",)),
        (chat(max_tokens="100"), "max_tokens", ("integer",)),
        (chat(max_tokens=True), "max_tokens", ("integer",)),
        (chat(max_completion_tokens=-5), "max_completion_tokens", ("between",)),
    ],
    ids=lambda value: None if isinstance(value, bytes) else repr(value)[:40],
)
def test_bad_json_bodies_are_refused_before_any_upstream(gateway, body, param, words):
    assert_refused(gateway, send(gateway, CHAT, body), 400, param, *words)


def test_absurd_token_counts_are_refused_on_legacy_completions_too(gateway):
    body = json.dumps({"model": "fake-chat", "prompt": "hi", "max_tokens": -1}).encode()
    assert_refused(gateway, send(gateway, "/v1/completions", body), 400, "max_tokens", "between 0")
    body = json.dumps({"model": "fake-embed", "input": "hi", "stream": "no"}).encode()
    assert_refused(gateway, send(gateway, "/v1/embeddings", body), 400, "stream")


@pytest.mark.parametrize(
    "model",
    ["fake-chat\r\nX-Injected: yes", "fake-chat\nx", "fake\x00chat", "fake\u2028chat", "a\x85b"],
    ids=repr,
)
def test_model_names_with_line_breaks_or_controls_are_refused(gateway, model):
    response = send(gateway, CHAT, json.dumps({"model": model, "messages": MESSAGES}).encode())
    assert_refused(gateway, response, 400, "model", "control characters")
    assert "x-injected" not in response.headers


def test_members_the_upstream_owns_pass_through_unchecked_and_unchanged(gateway):
    # Odd values for the upstream's own members, unknown members, key order and spacing: all kept.
    body = (
        b'{"temperature": "hot",  "model": "fake-chat", "messages": [{"role": "user", '
        b'"content": [{"type": "text", "text": "hi"}], "extra": {"deep": [1, 2.50, null]}}], '
        b'"n": "two", "x_vendor_option": {"a": "\\u00e9"}}'
    )
    before = upstream_requests(gateway)
    response = gateway.client.post(f"{gateway.url}{CHAT}", content=body)
    assert response.status_code == 200, response.text
    assert upstream_requests(gateway) == before + 1
    received = httpx.get(f"{gateway.upstream}/_fake/last").json()
    assert received["body"].encode() == body


def test_ollama_instances_refuse_content_they_cannot_translate(gateway):
    # The OpenAI-compatible adapters pass such a body on; Ollama's translation reads into it.
    for message in (
        {"role": "user", "content": [1, 2]},
        {"role": "user", "content": [{"type": "text", "text": 7}]},
        {"role": "assistant", "content": "", "tool_calls": [{"function": "f"}]},
    ):
        body = json.dumps({"model": "llama3", "messages": [message]}).encode()
        assert_refused(gateway, send(gateway, CHAT, body), 400, None, "For this model")
    body = json.dumps({"model": "llama3", "messages": MESSAGES, "options": [1]}).encode()
    assert_refused(gateway, send(gateway, CHAT, body), 400, None, "'options'")
    body = json.dumps({"model": "nomic", "input": [[1, 2, 3]]}).encode()
    assert_refused(gateway, send(gateway, "/v1/embeddings", body), 400, "input", "token-id")


# --- multipart: /v1/audio/transcriptions and /v1/images/edits

BOUNDARY = "gateway-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def form(*parts: tuple[str, bytes, str | None], close: bool = True) -> bytes:
    """A multipart body from (name, value, filename) triples."""
    out = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += value + b"\r\n"
    return out + (f"--{BOUNDARY}--\r\n".encode() if close else b"")


AUDIO = ("file", b"RIFF....WAVEfmt ", "a.wav")


@pytest.mark.parametrize("path", ["/v1/audio/transcriptions", "/v1/images/edits"])
@pytest.mark.parametrize(
    ("content_type", "body", "param", "words"),
    [
        ("application/json", b'{"model": "fake-whisper"}', None, ("multipart/form-data",)),
        ("multipart/form-data", form(("model", b"fake-whisper", None)), None, ("boundary",)),
        (MULTIPART, b"no boundary anywhere", None, ("never occurs",)),
        (MULTIPART, form(("model", b"fake-whisper", None), AUDIO, close=False), None, ("ends",)),
        (
            MULTIPART,
            f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{BOUNDARY}--".encode(),
            None,
            ("Content-Disposition",),
        ),
        (MULTIPART, f"--{BOUNDARY}junk\r\n".encode(), None, ("line break",)),
        (MULTIPART, form(AUDIO), "model", ("required",)),
        (MULTIPART, form(("model", b"  ", None), AUDIO), "model", ("required",)),
        (MULTIPART, form(("model", b"a", None), ("model", b"b", None)), "model", ("once",)),
        (MULTIPART, form(("model", b"fake-whisper", "m.txt"), AUDIO), "model", ("file",)),
        (MULTIPART, form(("model", b"fake-\xffwhisper", None), AUDIO), "model", ("UTF-8",)),
        (MULTIPART, form(("model", b"fake\r\nwhisper", None), AUDIO), "model", ("control",)),
    ],
    ids=lambda value: None if isinstance(value, bytes) else repr(value)[:30],
)
def test_invalid_multipart_is_refused_before_any_upstream(
    gateway, path, content_type, body, param, words
):
    assert_refused(gateway, send(gateway, path, body, content_type), 400, param, *words)


def test_the_model_field_is_found_by_the_framing_not_by_a_look_alike_inside_the_file(gateway):
    decoy = '--x\r\nContent-Disposition: form-data; name="model"\r\n\r\nno-such-model\r\n'
    body = form(("file", decoy.encode() + b"RIFF", "a.wav"), ("model", b"fake-whisper", None))
    before = upstream_requests(gateway)
    response = gateway.client.post(
        f"{gateway.url}/v1/audio/transcriptions", content=body, headers={"content-type": MULTIPART}
    )
    assert response.status_code == 200, response.text
    assert response.json()["text"] == "simulated transcription"
    assert upstream_requests(gateway) == before + 1
    assert httpx.get(f"{gateway.upstream}/_fake/last").json()["body"].encode() == body


# --- body size


def test_an_upload_between_djangos_default_and_the_limit_is_served(gateway):
    audio = ("file", b"RIFF" + b"\0" * (3 * 1024 * 1024), "a.wav")
    body = form(("model", b"fake-whisper", None), audio)
    assert 2_621_440 < len(body) < BODY_LIMIT
    response = gateway.client.post(
        f"{gateway.url}/v1/audio/transcriptions", content=body, headers={"content-type": MULTIPART}
    )
    assert response.status_code == 200, response.text


def _raw_exchange(gateway, head: bytes, body_parts: list[bytes]) -> tuple[bytes, bytes]:
    """Send a request head and some body bytes on a raw socket and read the answer (head, body),
    without ever finishing the request body: an answer proves the gateway did not wait for it."""
    port = int(gateway.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        for part in body_parts:
            sock.sendall(part)
        answer = b""
        deadline = time.monotonic() + 10
        while not answer.endswith(b"\r\n0\r\n\r\n"):  # the last chunk of a chunked answer
            assert time.monotonic() < deadline, f"no complete answer: {answer!r}"
            chunk = sock.recv(65536)
            assert chunk, f"connection closed early: {answer!r}"
            answer += chunk
    answer_head, _, chunked = answer.partition(b"\r\n\r\n")
    body = b""
    while True:
        size, _, rest = chunked.partition(b"\r\n")
        if int(size, 16) == 0:
            return answer_head, body
        body, chunked = body + rest[: int(size, 16)], rest[int(size, 16) + 2 :]


def _head(gateway, extra: str) -> bytes:
    return (
        f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {gateway.api_key}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    ).encode()


def _assert_413(answer: tuple[bytes, bytes]) -> None:
    head, body = answer
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"connection: close" in head.lower()
    error = json.loads(body)["error"]
    assert error["code"] == "request_too_large" and str(BODY_LIMIT) in error["message"]
    assert error["type"] == "invalid_request_error"


def test_a_declared_length_above_the_limit_is_refused_before_the_body_is_read(gateway):
    before = upstream_requests(gateway)
    answer = _raw_exchange(gateway, _head(gateway, "Content-Length: 10000000000\r\n"), [b"{"])
    _assert_413(answer)
    assert upstream_requests(gateway) == before


@pytest.mark.parametrize(
    "length", ["Content-Length: 1000000\r\n", "Transfer-Encoding: chunked\r\n"]
)
def test_a_large_body_without_a_valid_key_is_refused_before_it_is_read(gateway, length):
    head = _head(gateway, length).replace(gateway.api_key.encode(), b"sk-not-a-key")
    # Only the head is sent: an answer proves the gateway did not wait for the body.
    answer_head, body = _raw_exchange(gateway, head, [])
    assert answer_head.startswith(b"HTTP/1.1 401"), answer_head
    assert json.loads(body)["error"]["code"] == "invalid_api_key"


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(gateway):
    before = upstream_requests(gateway)
    chunk = b"x" * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    frames = [frame] * (BODY_LIMIT // len(chunk) + 1)  # one past the limit, never terminated
    answer = _raw_exchange(gateway, _head(gateway, "Transfer-Encoding: chunked\r\n"), frames)
    _assert_413(answer)
    assert upstream_requests(gateway) == before
    # The worker is still serving.
    ok = gateway.client.post(f"{gateway.url}{CHAT}", content=chat())
    assert ok.status_code == 200


def test_a_raw_line_break_in_a_header_value_never_reaches_the_gateway_or_upstream(gateway):
    before = upstream_requests(gateway)
    body = chat()
    head = _head(gateway, f"X-Note: a\rX-Injected: yes\r\nContent-Length: {len(body)}\r\n")
    port = int(gateway.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body)
        answer = sock.recv(65536)
    # The HTTP server (uvicorn) refuses the malformed head itself: the request never exists.
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert upstream_requests(gateway) == before
