"""The gateway's vocabulary: service types and the choices a service or an instance is made of."""

from enum import StrEnum


class ServiceKind(StrEnum):
    CHAT = "chat"
    EMBEDDING = "embedding"
    RERANK = "rerank"
    TTS = "tts"
    STT = "stt"
    IMG_GEN = "imgGen"
    IMG_EDIT = "imgEdit"


# The OpenAI-compatible path each service type answers on (after /v1). `/v1/completions` is served by
# the chat service's instances too.
V1_PATHS: dict[str, str] = {
    ServiceKind.CHAT: "chat/completions",
    ServiceKind.EMBEDDING: "embeddings",
    ServiceKind.RERANK: "rerank",
    ServiceKind.TTS: "audio/speech",
    ServiceKind.STT: "audio/transcriptions",
    ServiceKind.IMG_GEN: "images/generations",
    ServiceKind.IMG_EDIT: "images/edits",
}


class LoadBalancer(StrEnum):
    RANDOM = "random"
    ROUND_ROBIN = "round_robin"
    LEAST_CONNECTIONS = "least_connections"
    IP_HASH = "ip_hash"
    NEURAL = "neural"


class RateLimitAlgorithm(StrEnum):
    TOKEN_BUCKET = "token_bucket"  # noqa: S105 - an algorithm name
    LEAKY_BUCKET = "leaky_bucket"
    SLIDING_WINDOW = "sliding_window"
    WARM_UP = "warm_up"


class RateLimitScope(StrEnum):
    SERVICE = "service"
    INSTANCE = "instance"
    CLIENT_IP = "client_ip"


class Adapter(StrEnum):
    OPENAI = "openai"
    OLLAMA = "ollama"
    VLLM = "vllm"
    GPUSTACK = "gpustack"
    XINFERENCE = "xinference"
    LOCALAI = "localai"
    ANTHROPIC = "anthropic"
    AZURE = "azure"
    GEMINI = "gemini"


class Tier(StrEnum):
    LIGHTWEIGHT = "lightweight"
    POWERFUL = "powerful"


class HealthStatus(StrEnum):
    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
