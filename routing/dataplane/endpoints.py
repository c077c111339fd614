"""The /v1 routes the gateway serves, the service type that answers each, and the API its clients
speak: OpenAI's everywhere but on `messages` (Anthropic's Messages API) and `responses` (OpenAI's
Responses API), which `clientapi` serves over chat-completions upstreams."""

from dataclasses import dataclass

from routing.service_types import V1_PATHS, ServiceKind


@dataclass(frozen=True, slots=True)
class Endpoint:
    route: str  # after /v1/, as in the OpenAI API
    service_type: str
    multipart: bool = False  # the model name is a form field, not a JSON member
    api: str = "openai"  # the client's API: the shape of its requests, answers and errors

    @property
    def is_primary(self) -> bool:
        """Whether this is the route an instance's explicit `path` stands for."""
        return V1_PATHS.get(self.service_type) == self.route


ENDPOINTS: dict[str, Endpoint] = {
    "chat/completions": Endpoint("chat/completions", ServiceKind.CHAT),
    # Legacy text completions and moderations are served by the chat service's instances.
    "completions": Endpoint("completions", ServiceKind.CHAT),
    "moderations": Endpoint("moderations", ServiceKind.CHAT),
    "embeddings": Endpoint("embeddings", ServiceKind.EMBEDDING),
    "rerank": Endpoint("rerank", ServiceKind.RERANK),
    "audio/speech": Endpoint("audio/speech", ServiceKind.TTS),
    "audio/transcriptions": Endpoint("audio/transcriptions", ServiceKind.STT, multipart=True),
    # Translation to English: the same speech-to-text instances, another route.
    "audio/translations": Endpoint("audio/translations", ServiceKind.STT, multipart=True),
    "images/generations": Endpoint("images/generations", ServiceKind.IMG_GEN),
    "images/edits": Endpoint("images/edits", ServiceKind.IMG_EDIT, multipart=True),
    # Other clients' APIs, served by the chat service's instances.
    "messages": Endpoint("messages", ServiceKind.CHAT, api="anthropic"),
    "responses": Endpoint("responses", ServiceKind.CHAT, api="responses"),
}
