import pytest


@pytest.fixture
def anyio_backend() -> str:
    # The gateway runs on asyncio (uvicorn); async tests use anyio's pytest plugin on that loop.
    return "asyncio"
