"""Adapters: how a request for one instance is written, and how its answer is read back."""

from routing.service_types import Adapter as AdapterName

from .anthropic import ANTHROPIC
from .azure import AZURE
from .base import Adapter, Translation, UpstreamRequest
from .ollama import OLLAMA
from .openai import GEMINI, GPUSTACK, LOCALAI, OPENAI, VLLM, XINFERENCE

ADAPTERS: dict[str, Adapter] = {
    AdapterName.OPENAI: OPENAI,
    AdapterName.VLLM: VLLM,
    AdapterName.GPUSTACK: GPUSTACK,
    AdapterName.XINFERENCE: XINFERENCE,
    AdapterName.LOCALAI: LOCALAI,
    AdapterName.OLLAMA: OLLAMA,
    AdapterName.ANTHROPIC: ANTHROPIC,
    AdapterName.AZURE: AZURE,
    AdapterName.GEMINI: GEMINI,
}


def adapter_for(name: str) -> Adapter:
    # An adapter name the data plane does not know is treated as OpenAI-compatible, the common case.
    return ADAPTERS.get(name, OPENAI)


__all__ = ["ADAPTERS", "Adapter", "Translation", "UpstreamRequest", "adapter_for"]
