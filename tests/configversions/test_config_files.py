"""Configuration files: export -> import round trip, the ROUTER_CONFIG_FILE baseline, bad files."""

import json

import pytest
import yaml
from django.core.management import CommandError, call_command

from configversions.models import ConfigVersion
from configversions.selectors import live_snapshot
from configversions.services import configuration_reset, configuration_seed
from routing.models import ServiceInstance, ServiceType
from routing.services import instance_add, service_type_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def configured():
    service_type_update(
        name="chat",
        actor=None,
        load_balancer="round_robin",
        rate_limit={"algorithm": "token_bucket", "capacity": 20},
        fallback={
            "models": ["llama3:8b"],
            "response": {"status": 200, "body": {"message": "busy"}},
        },
    )
    instance_add(
        service_type="chat",
        name="qwen2:7b",
        base_url="http://ollama:11434",
        adapter="ollama",
        api_key="sk-live-abcdef123456f3a9",
        headers={"X-Team": "search"},
        tier="lightweight",
        actor=None,
    )
    return live_snapshot()


@pytest.mark.parametrize("suffix", ["yaml", "json"])
def test_export_then_import_gives_an_identical_snapshot(configured, tmp_path, suffix):
    path = tmp_path / f"config.{suffix}"
    call_command("export_config", "--out", str(path), "--include-secrets")
    assert (path.stat().st_mode & 0o777) == 0o600
    configuration_reset(actor=None)
    assert live_snapshot() != configured
    call_command("import_config", str(path))
    assert live_snapshot() == configured
    assert ConfigVersion.objects.order_by("number").last().operation == "import"


def test_importing_the_live_configuration_writes_no_version(configured, tmp_path, capsys):
    path = tmp_path / "same.json"
    path.write_text(json.dumps(configured))
    before = ConfigVersion.objects.count()
    call_command("import_config", str(path))
    assert ConfigVersion.objects.count() == before
    assert "no version written" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("services: [1, 2", "not valid YAML"),
        ("services:\n  video: {}\n", "serviceType"),
        ("services:\n  chat:\n    loadBalancer: fastest\n", "services.chat.loadBalancer"),
        (
            "services:\n  chat:\n    instances:\n      - {name: m, baseUrl: 'nope'}\n",
            "services.chat.instances[0].baseUrl",
        ),
        ("routing: {}\n", "Unknown section"),
    ],
)
def test_bad_files_are_refused_and_change_nothing(configured, tmp_path, content, complaint):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(CommandError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        call_command("import_config", str(path))
    assert live_snapshot() == configured


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read configuration file"):
        call_command("import_config", str(tmp_path / "absent.yaml"))


def test_a_baseline_file_seeds_an_empty_database_as_version_one(tmp_path):
    ConfigVersion.objects.all().delete()
    ServiceType.objects.all().delete()
    baseline = {
        "services": {
            "embedding": {
                "loadBalancer": "least_connections",
                "instances": [
                    {"name": "bge-m3", "baseUrl": "http://tei:8080", "adapter": "openai"}
                ],
            }
        }
    }
    version = configuration_seed(content=yaml.safe_load(yaml.safe_dump(baseline)))
    assert version.number == 1 and version.operation == "baseline"
    assert list(ServiceType.objects.values_list("name", flat=True)) == ["embedding"]
    assert ServiceInstance.objects.get().weight == 1
    assert configuration_seed(content=baseline) is None  # only an empty database is seeded
