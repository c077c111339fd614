"""The /v1 routes the gateway serves, and the service type that answers each."""

from dataclasses import dataclass

from routing.service_types import V1_PATHS, ServiceKind


@dataclass(frozen=True, slots=True)
class Endpoint:
    route: str  # after /v1/, as in the OpenAI API
    service_type: str
    multipart: bool = False  # the model name is a form field, not a JSON member

    @property
    def is_primary(self) -> bool:
        """Whether this is the route an instance's explicit `path` stands for."""
        return V1_PATHS.get(self.service_type) == self.route


ENDPOINTS: dict[str, Endpoint] = {
    "chat/completions": Endpoint("chat/completions", ServiceKind.CHAT),
    # Legacy text completions are served by the chat service's instances.
    "completions": Endpoint("completions", ServiceKind.CHAT),
    "embeddings": Endpoint("embeddings", ServiceKind.EMBEDDING),
    "rerank": Endpoint("rerank", ServiceKind.RERANK),
    "audio/speech": Endpoint("audio/speech", ServiceKind.TTS),
    "audio/transcriptions": Endpoint("audio/transcriptions", ServiceKind.STT, multipart=True),
    "images/generations": Endpoint("images/generations", ServiceKind.IMG_GEN),
    "images/edits": Endpoint("images/edits", ServiceKind.IMG_EDIT, multipart=True),
}
