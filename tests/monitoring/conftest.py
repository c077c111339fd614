import pytest
from prometheus_client import REGISTRY

from monitoring.live import forget_view


@pytest.fixture(autouse=True)
def _fresh_monitoring_view():
    forget_view()
    yield
    forget_view()


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
