"""The neural router inside the gateway (its model settings are versioned configuration instead)."""

from .env import env_float, env_int, env_str

# A model of the gateway's own `embedding` service to embed prompts with; empty: the local hashing
# embedder. Its vectors must have NEURAL_EMBEDDING_DIMENSIONS dimensions.
NEURAL_EMBEDDING_MODEL = env_str("NEURAL_EMBEDDING_MODEL")
# Size of the prompt vectors (the hashing embedder's, or the embedding model's); changing it orphans
# the existing exemplars.
NEURAL_EMBEDDING_DIMENSIONS = env_int("NEURAL_EMBEDDING_DIMENSIONS", 256, minimum=8)
# Nearest exemplars scored per request.
NEURAL_NEIGHBOURS = env_int("NEURAL_NEIGHBOURS", 8, minimum=1)
# Share of requests sent to the lightweight tier regardless of the model, so it keeps being measured.
NEURAL_EXPLORATION_RATE = env_float("NEURAL_EXPLORATION_RATE", 0.05)
NEURAL_MAX_EXEMPLARS = env_int("NEURAL_MAX_EXEMPLARS", 10_000, minimum=1)
# How long a decision can still receive client feedback at /api/router/feedback.
NEURAL_FEEDBACK_TTL_SECONDS = env_int("NEURAL_FEEDBACK_TTL_SECONDS", 3600, minimum=1)
