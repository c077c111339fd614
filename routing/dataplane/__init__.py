"""The data plane: the OpenAI-compatible /v1 gateway (selection, adapters, proxying)."""
