"""The SSRF guard on instance base URLs: the policy as a pure function (resolver injected), real
name resolution, and the field-level 400 through every door (API, dashboard, configuration file)."""

import asyncio
import ipaddress

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from configversions.services import configuration_seed
from routing.dataplane import client
from routing.destinations import DestinationPolicy, GuardedResolver, Unresolvable, refusal
from routing.models import ServiceInstance
from tests.routerproject.test_settings import GOOD_SECRET, _load_production

DEFAULT = DestinationPolicy(
    denied_networks=tuple(
        ipaddress.ip_network(n)
        for n in ("169.254.0.0/16", "fe80::/10", "169.254.169.254/32", "fd00:ec2::254/128")
    ),
    denied_hosts=frozenset({"metadata.google.internal"}),
)
CLOSED = DestinationPolicy(DEFAULT.denied_networks, DEFAULT.denied_hosts, False, False)


def resolver(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise Unresolvable(host)
        return table[host]

    return resolve


NOWHERE = resolver({})


@pytest.mark.parametrize(
    ("host", "complaint"),
    [
        ("169.254.169.254", "169.254.169.254 is in the denied network 169.254.0.0/16"),
        ("169.254.10.1", "denied network 169.254.0.0/16"),
        ("fd00:ec2::254", "fd00:ec2::254 is in the denied network fd00:ec2::254/128"),
        ("fe80::1", "denied network fe80::/10"),
        ("fe80::1%eth0", "denied network fe80::/10"),
        ("::ffff:169.254.169.254", "denied network 169.254.0.0/16"),
        # IPv4-compatible, NAT64 (well-known and local-use prefixes), 6to4 and Teredo spellings.
        (
            "::169.254.169.254",
            "::a9fe:a9fe embeds 169.254.169.254, which is in the denied network 169.254.0.0/16",
        ),
        (
            "64:ff9b::169.254.169.254",
            "embeds 169.254.169.254, which is in the denied network 169.254.0.0/16",
        ),
        ("64:ff9b:1::a9fe:a9fe", "embeds 169.254.169.254, which is in the denied network"),
        (
            "2002:a9fe:a9fe::1",
            "embeds 169.254.169.254, which is in the denied network 169.254.0.0/16",
        ),
        (
            "2001:0:4136:e378:8000:63bf:5601:5601",
            "embeds 169.254.169.254, which is in the denied network",
        ),
        ("metadata.google.internal", "metadata.google.internal is a denied host"),
        ("Metadata.Google.Internal.", "is a denied host"),
    ],
)
def test_metadata_and_link_local_destinations_are_refused(host, complaint):
    assert complaint in (refusal(host, 80, DEFAULT, NOWHERE) or "")


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "::1", "localhost", "10.0.0.5", "192.168.1.10", "ollama", "8.8.8.8"]
)
def test_local_and_private_backends_are_allowed_by_default(host):
    local = resolver({"localhost": ["127.0.0.1", "::1"]})
    assert refusal(host, 11434, DEFAULT, local) is None


def test_loopback_and_private_can_be_refused_too():
    names = resolver({"vllm.internal": ["10.1.2.3"], "localhost": ["127.0.0.1"]})
    assert "loopback" in refusal("127.0.0.1", 80, CLOSED, names)
    assert "loopback" in refusal("0.0.0.0", 80, CLOSED, names)  # reaches the host itself
    assert "loopback" in refusal("localhost", 80, CLOSED, names)
    assert "vllm.internal resolves to 10.1.2.3, which is a private address" in refusal(
        "vllm.internal", 80, CLOSED, names
    )
    assert "private" in refusal("fd12::1", 80, CLOSED, names)
    assert "loopback" in refusal("64:ff9b::127.0.0.1", 80, CLOSED, names)
    assert "private" in refusal("2002:a00:5::1", 80, CLOSED, names)  # 6to4 of 10.0.0.5
    assert refusal("64:ff9b::8.8.8.8", 80, CLOSED, names) is None
    assert refusal("8.8.8.8", 80, CLOSED, names) is None
    assert refusal("api.example.com", 443, CLOSED, names) is None  # unresolvable: by name only


def test_every_address_a_name_resolves_to_is_checked():
    names = resolver({"rebind.example": ["93.184.216.34", "169.254.169.254"]})
    assert refusal("rebind.example", 80, DEFAULT, names) == (
        "rebind.example resolves to 169.254.169.254, which is in the denied network 169.254.0.0/16"
    )


def test_real_resolution_catches_numeric_spellings_of_the_metadata_address():
    # 2852039166 and 0xa9fea9fe are 169.254.169.254 to the system resolver.
    for host in ("2852039166", "0xa9fea9fe", "169.254.43518"):
        assert "169.254.169.254" in (refusal(host, 80, DEFAULT) or ""), host


# --- through the control plane


METADATA_URLS = [
    "http://169.254.169.254/latest/meta-data",
    "http://[fd00:ec2::254]",
    "http://metadata.google.internal/computeMetadata/v1",
    "http://2852039166",
    "http://[::169.254.169.254]",
    "http://[64:ff9b::169.254.169.254]",
    "http://[2002:a9fe:a9fe::1]",
]


def add_instance(client, base_url: str):
    return client.post(
        "/api/config/instance/add/chat",
        {"name": "m", "baseUrl": base_url},
        format="json",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("base_url", METADATA_URLS)
def test_the_api_refuses_denied_destinations_on_the_base_url_field(staff_client, base_url):
    response = add_instance(staff_client, base_url)
    assert response.status_code == 400, response.json()
    errors = response.json()["data"]["errors"]
    assert list(errors) == ["baseUrl"]
    assert "Not an allowed destination" in errors["baseUrl"][0]
    assert not ServiceInstance.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("base_url", "complaint"),
    [
        ("file:///etc/passwd", "http:// or https://"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "http:// or https://"),
        ("http://user:pass@ollama:11434", "credentials"),
        ("http://ollama:11434\r\nX-Injected: 1", "control characters"),
        ("http://oll\tama:11434", "spaces or control characters"),
    ],
)
def test_the_api_refuses_other_schemes_credentials_and_control_characters(
    staff_client, base_url, complaint
):
    response = add_instance(staff_client, base_url)
    assert response.status_code == 400
    assert complaint in response.json()["data"]["errors"]["baseUrl"][0]


@pytest.mark.django_db
def test_the_allow_settings_are_read_at_validation_time(staff_client, settings):
    assert add_instance(staff_client, "http://localhost:11434").status_code == 201
    settings.INSTANCE_URL_ALLOW_LOOPBACK = False
    refused = add_instance(staff_client, "http://localhost:8000")
    assert refused.status_code == 400
    assert "localhost resolves to" in refused.json()["data"]["errors"]["baseUrl"][0]
    settings.INSTANCE_URL_DENIED_HOSTS = ["vllm.example"]
    assert add_instance(staff_client, "http://VLLM.example.").status_code == 400


@pytest.mark.django_db
def test_the_dashboard_form_shows_the_refusal_on_its_field(staff_user):
    configuration_seed()
    client = Client()
    client.force_login(staff_user)
    form = {
        "name": "m",
        "base_url": "http://169.254.169.254",
        "weight": "1",
        "enabled": "on",
        "adapter": "openai",
    }
    response = client.post("/dashboard/services/chat/instances/new/", form)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "Not an allowed destination" in errors["base_url"][0]
    assert not ServiceInstance.objects.exists()


@pytest.mark.django_db
def test_a_configuration_file_with_a_denied_destination_is_refused(tmp_path):
    configuration_seed()
    path = tmp_path / "config.yaml"
    path.write_text(
        "services:\n  chat:\n    instances:\n      - {name: m, baseUrl: 'http://169.254.169.254'}\n"
    )
    with pytest.raises(
        CommandError, match=r"services\.chat\.instances\[0\]\.baseUrl: Not an allowed"
    ):
        call_command("import_config", str(path))
    assert not ServiceInstance.objects.exists()


def test_a_denied_network_that_is_not_a_network_stops_the_process():
    result = _load_production(
        DJANGO_SECRET_KEY=GOOD_SECRET,
        ALLOWED_HOSTS="gw.example.com",
        INSTANCE_URL_DENIED_NETWORKS="169.254.0.0/16,metadata",
    )
    assert result.returncode != 0
    assert "INSTANCE_URL_DENIED_NETWORKS: 'metadata' is not a network" in result.stderr


@pytest.mark.anyio
async def test_a_name_is_checked_again_on_the_addresses_it_has_when_the_gateway_connects():
    # The name passed when it was saved; the policy (or, with DNS rebinding, the name's
    # addresses) now says no: the resolver the data plane connects through keeps none of them.
    closed = GuardedResolver(DestinationPolicy((), frozenset(), allow_loopback=False))
    with pytest.raises(OSError, match="may not point at"):
        await closed.resolve("localhost", 80)
    denied_name = GuardedResolver(DestinationPolicy((), frozenset({"localhost"})))
    with pytest.raises(OSError, match="denied host"):
        await denied_name.resolve("localhost", 80)
    allowed = await GuardedResolver(DestinationPolicy((), frozenset())).resolve("localhost", 80)
    assert allowed and all(ipaddress.ip_address(r["host"]).is_loopback for r in allowed)


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"], ids=["name", "literal"])
async def test_the_data_plane_refuses_to_connect_where_the_policy_now_forbids(settings, host):
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def call() -> int:
        # A new event loop per test gets its own session, built with the current settings.
        response = await client.send_upstream(
            "GET",
            f"http://{host}:{port}/",
            headers={},
            content=b"",
            connect_timeout_s=2,
            request_timeout_s=2,
        )
        await response.aclose()
        return response.status_code

    async with server:
        assert await call() == 200
        await client._sessions.pop(id(asyncio.get_running_loop()))[1].close()
        settings.INSTANCE_URL_ALLOW_LOOPBACK = False
        with pytest.raises(client.UpstreamUnreachable):
            await call()
        await client._sessions.pop(id(asyncio.get_running_loop()))[1].close()
