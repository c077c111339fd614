import shutil
import subprocess

import pytest
from prometheus_client import REGISTRY

from routerproject import generations


@pytest.fixture(autouse=True)
def _fresh_monitoring_view():
    generations.forget()
    yield
    generations.forget()


def recorded(name: str, **labels: str) -> float:
    """A sample of the process registry under its internal name (0 when absent)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def exported(text: str, name: str) -> dict[str, float]:
    """Samples of `name` in an exposition: labels text -> value."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, _, value = line.rpartition(" ")
            found[key[len(name) :]] = float(value)
    return found


# What `promtool check metrics` may say about the exposition: only the lints that the seed's two
# documented gauges cannot avoid (microseconds are not the base unit; the percentile gauge carries
# `quantile`, which promtool reserves for summaries). Anything else is a defect.
SEED_LINTS = frozenset(
    {
        'tiny_dancer_inference_time_microseconds use base unit "seconds" instead of "microseconds"',
        'tiny_dancer_latency_microseconds use base unit "seconds" instead of "microseconds"',
        'tiny_dancer_latency_microseconds non-summary metrics should not have "quantile" label',
    }
)


def promtool_problems(exposition: bytes) -> set[str]:
    """Everything `promtool check metrics` reports about an exposition, one entry per line; the
    test is skipped (with its reason printed) when promtool is not installed."""
    promtool = shutil.which("promtool")
    if promtool is None:
        print("SKIP reason: promtool is not installed (apt-get install prometheus)")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    result = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True)
    output = (result.stdout + result.stderr).decode()
    problems = {line.strip() for line in output.splitlines() if line.strip()}
    assert problems or result.returncode == 0, output
    return problems
