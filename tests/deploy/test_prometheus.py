"""docker/prometheus: promtool accepts the configuration and the rules, and the rules fire on the
series shapes the gateway exports (alerts_test.yml). Whether those series exist is test_image.py's."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.processes import ROOT

pytestmark = pytest.mark.pass_independent

PROMETHEUS = ROOT / "docker" / "prometheus"
RULE_TESTS = Path(__file__).with_name("alerts_test.yml")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("promtool")
    if found is None:
        print("SKIP reason: promtool is not installed (apt-get install prometheus)")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return subprocess.run([found, *args], capture_output=True, text=True, timeout=60, check=False)


def test_promtool_accepts_the_configuration_and_its_rule_files():
    done = promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 rule files found" in done.stdout


def test_promtool_accepts_the_alert_rules():
    done = promtool("check", "rules", str(PROMETHEUS / "alerts.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_alerts_fire_on_bad_series_and_stay_quiet_on_good_ones():
    done = promtool("test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
