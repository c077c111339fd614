"""The neural router inside the gateway (its model settings are versioned configuration instead)."""

from pathlib import Path

from .env import env_float, env_int, env_str

_VAR_DIR = Path(env_str("ROUTER_VAR_DIR", str(Path(__file__).resolve().parents[2] / "var")))


# Share of requests sent to the lightweight tier regardless of the model, so it keeps being measured.
NEURAL_EXPLORATION_RATE = env_float("NEURAL_EXPLORATION_RATE", 0.05)
NEURAL_MAX_EXEMPLARS = env_int("NEURAL_MAX_EXEMPLARS", 10_000, minimum=1)
# How long a decision can still receive client feedback at /api/router/feedback.
NEURAL_FEEDBACK_TTL_SECONDS = env_int("NEURAL_FEEDBACK_TTL_SECONDS", 3600, minimum=1)
# Labelled prompts the retraining job always learns from (comma-separated JSONL files, relative to the
# project): the shipped data set.
NEURAL_TRAINING_DATA = [
    path.strip()
    for path in env_str(
        "NEURAL_TRAINING_DATA", "data/routing/mmlu-train.jsonl,data/routing/gsm8k-train.jsonl"
    ).split(",")
    if path.strip()
]
# Where the retraining job writes the model it trained (and its exemplar bank beside it); the job
# then points the router's `model_path` at it.
NEURAL_RETRAINED_MODEL = env_str(
    "NEURAL_RETRAINED_MODEL", str(_VAR_DIR / "router" / "retrained.safetensors")
)
