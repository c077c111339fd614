"""A simulated model backend: a plain ASGI app (no Django) answering OpenAI's, Azure OpenAI's,
Anthropic's and Ollama's endpoints.

Tests, the demo of `make run` and the benchmark point the gateway at it. See `app.FakeUpstream`.
"""

from .app import Behaviour, FakeUpstream

__all__ = ["Behaviour", "FakeUpstream"]
