import pytest


@pytest.fixture(autouse=True)
def _keys_optional_in_process(settings):
    """In-process pipeline tests exercise routing, not keys (the end-to-end stack sends real keys)."""
    settings.GATEWAY_REQUIRE_API_KEY = False
