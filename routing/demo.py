"""The demo configuration of `make run`: every service type served by the simulated backend."""

from typing import Any

DEMO_MODELS = {
    "chat": ("demo-chat", "openai"),
    "embedding": ("demo-embed", "openai"),
    "rerank": ("demo-rerank", "openai"),
    "tts": ("demo-tts", "openai"),
    "stt": ("demo-whisper", "openai"),
    "imgGen": ("demo-image", "openai"),
    "imgEdit": ("demo-image-edit", "openai"),
}


def demo_services(upstream: str) -> dict[str, Any]:
    services: dict[str, Any] = {}
    for service_type, (model, adapter) in DEMO_MODELS.items():
        services[service_type] = {
            "loadBalancer": "round_robin",
            "instances": [{"name": model, "baseUrl": upstream, "adapter": adapter}],
        }
    # Priced as a small hosted model is, so that spend shows (USD per million tokens).
    services["chat"]["instances"][0].update(
        {"inputCostPerMillionTokens": 0.15, "outputCostPerMillionTokens": 0.6}
    )
    # A neural service to watch: `auto` goes to the lightweight or the powerful tier.
    services["chat"]["loadBalancer"] = "neural"
    services["chat"]["instances"] += [
        {"name": "demo-small", "baseUrl": upstream, "tier": "lightweight"},
        {"name": "demo-large", "baseUrl": upstream, "tier": "powerful"},
        # The simulated backend answers as Anthropic's Messages API and as an Azure deployment.
        {
            "name": "demo-claude",
            "baseUrl": upstream,
            "adapter": "anthropic",
            "apiKey": "sk-ant-demo-upstream",
        },
        {
            "name": "demo-azure",
            "baseUrl": upstream,
            "adapter": "azure",
            "apiKey": "demo-azure-upstream",
            "upstreamModel": "demo-deployment",
        },
        {"name": "demo-moderation", "baseUrl": upstream},
    ]
    # Names clients already send, served by the demo's models.
    services["chat"]["aliases"] = {"gpt-4o-mini": "demo-chat", "claude-haiku-4-5": "demo-claude"}
    return services
