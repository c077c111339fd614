"""Service types and their backend instances: the routing part of the configuration.

Rows change only through `routing.services`, which records a configuration version for every change.
Nested settings (rate limit, breaker, fallback, headers) are JSON in canonical form (see
`config_schema`); health fields are runtime observations, not configuration, and stay out of versions.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from . import config_schema
from .service_types import Adapter, HealthStatus, LoadBalancer, ServiceKind, Tier

# The adapters whose upstreams may serve OpenAI's /v1/responses under their own prefix.
RESPONSES_CAPABLE = frozenset(
    {Adapter.OPENAI, Adapter.VLLM, Adapter.XINFERENCE, Adapter.LOCALAI, Adapter.GPUSTACK}
)


def _choices(enum: type) -> list[tuple[str, str]]:
    return [(member.value, member.value) for member in enum]  # type: ignore[attr-defined]


def _default_breaker() -> dict[str, Any]:
    return dict(config_schema.DEFAULT_BREAKER)


def _clean_into(
    errors: dict[str, list[ValidationError]], obj: Any, attr: str, cleaner: Any
) -> None:
    """Run a config_schema cleaner on a field; errors about a part of it (`rate_limit.capacity`)
    are filed under the field itself, with the part kept in `params` for the API to report."""
    try:
        setattr(obj, attr, cleaner(getattr(obj, attr), attr))
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            head, _, part = key.partition(".")
            for message in messages:
                if part:
                    error = ValidationError(
                        "%(part)s: %(detail)s", params={"part": part, "detail": message}
                    )
                else:
                    error = ValidationError(message.replace("%", "%%"))
                errors.setdefault(head, []).append(error)


class ServiceType(models.Model):
    name = models.CharField(max_length=16, unique=True, choices=_choices(ServiceKind))
    load_balancer = models.CharField(
        max_length=32, choices=_choices(LoadBalancer), default=LoadBalancer.RANDOM
    )
    rate_limit = models.JSONField(null=True, blank=True)
    circuit_breaker = models.JSONField(default=_default_breaker)
    fallback = models.JSONField(null=True, blank=True)
    retries = models.PositiveSmallIntegerField(default=1, validators=[MaxValueValidator(10)])
    connect_timeout_ms = models.PositiveIntegerField(
        default=5_000, validators=[MinValueValidator(1), MaxValueValidator(600_000)]
    )
    request_timeout_ms = models.PositiveIntegerField(
        default=120_000, validators=[MinValueValidator(1), MaxValueValidator(3_600_000)]
    )
    aliases = models.JSONField(
        default=dict, blank=True, help_text="Client-facing model names -> the model they stand for."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, list[ValidationError]] = {}
        _clean_into(errors, self, "rate_limit", config_schema.clean_rate_limit)
        _clean_into(errors, self, "circuit_breaker", config_schema.clean_breaker)
        _clean_into(errors, self, "fallback", config_schema.clean_fallback)
        _clean_into(errors, self, "aliases", config_schema.clean_aliases)
        if errors:
            raise ValidationError(errors)


class ServiceInstance(models.Model):
    service_type = models.ForeignKey(
        ServiceType, on_delete=models.CASCADE, related_name="instances"
    )
    name = models.CharField(max_length=200, help_text="The model name clients send.")
    base_url = models.CharField(max_length=500)
    api_key = models.CharField(max_length=500, blank=True)
    weight = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(10_000)]
    )
    enabled = models.BooleanField(default=True)
    adapter = models.CharField(max_length=16, choices=_choices(Adapter), default=Adapter.OPENAI)
    path = models.CharField(max_length=300, blank=True, help_text="Upstream path override.")
    upstream_model = models.CharField(
        max_length=200,
        blank=True,
        help_text="The model name sent upstream (an Azure deployment, a provider's own name); "
        "blank: the name clients send.",
    )
    input_cost_per_million = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1_000_000.0)],
        help_text="USD per million prompt tokens; blank: unpriced.",
    )
    output_cost_per_million = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1_000_000.0)],
        help_text="USD per million completion tokens; blank: unpriced.",
    )
    responses_api = models.BooleanField(
        default=False,
        help_text="The instance serves OpenAI's Responses API itself: /v1/responses requests for "
        "it are passed through instead of translated to chat completions.",
    )
    headers = models.JSONField(default=dict, blank=True)
    tier = models.CharField(max_length=16, choices=_choices(Tier), blank=True)
    rate_limit = models.JSONField(null=True, blank=True)
    circuit_breaker = models.JSONField(null=True, blank=True)
    health_status = models.CharField(
        max_length=16, choices=_choices(HealthStatus), default=HealthStatus.UNKNOWN
    )
    last_health_check = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["service_type_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service_type", "name", "base_url"], name="unique_instance_per_service"
            )
        ]

    def __str__(self) -> str:
        return self.instance_id

    @property
    def instance_id(self) -> str:
        return f"{self.name}@{self.base_url}"

    def clean(self) -> None:
        errors: dict[str, list[ValidationError]] = {}
        if self.path and not self.path.startswith("/"):
            errors["path"] = [ValidationError("Must start with '/'.")]
        if self.name != self.name.strip() or not self.name:
            errors["name"] = [ValidationError("Must be a model name without surrounding spaces.")]
        for attr in ("name", "path", "api_key", "upstream_model"):
            _clean_into(errors, self, attr, config_schema.clean_single_line)
        _clean_into(errors, self, "base_url", config_schema.clean_base_url)
        if self.responses_api and self.adapter not in RESPONSES_CAPABLE:
            errors["responses_api"] = [
                ValidationError(
                    "Only OpenAI-compatible adapters (%(adapters)s) can pass the Responses API "
                    "through.",
                    params={"adapters": ", ".join(sorted(RESPONSES_CAPABLE))},
                )
            ]
        _clean_into(errors, self, "headers", config_schema.clean_headers)
        _clean_into(errors, self, "rate_limit", config_schema.clean_rate_limit)
        if self.circuit_breaker is not None:
            _clean_into(errors, self, "circuit_breaker", config_schema.clean_breaker)
        if errors:
            raise ValidationError(errors)


class RouterSettings(models.Model):
    """The neural router's settings (the reference router's field names); one row, versioned."""

    model_path = models.CharField(max_length=500, default="./models/fastgrnn.safetensors")
    confidence_threshold = models.FloatField(
        default=0.85, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    max_uncertainty = models.FloatField(
        default=0.15, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    enable_circuit_breaker = models.BooleanField(default=True)
    circuit_breaker_threshold = models.PositiveIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(10_000)]
    )
    enable_quantization = models.BooleanField(default=True)
    target_powerful_share = models.FloatField(
        default=0.4,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of prompts the calibrated threshold sends to the powerful tier.",
    )

    class Meta:
        verbose_name_plural = "router settings"

    def __str__(self) -> str:
        return "neural router settings"


class RoutingExemplar(models.Model):
    """A past prompt of a `neural` service with how the lightweight tier fared on prompts like it."""

    service_type = models.ForeignKey(
        ServiceType, on_delete=models.CASCADE, related_name="exemplars"
    )
    prompt_hash = models.CharField(max_length=64)
    embedding = models.BinaryField(help_text="float32 little-endian, L2-normalised.")
    metadata = models.JSONField(default=dict, blank=True)
    access_count = models.PositiveIntegerField(default=0)
    lightweight_attempts = models.PositiveIntegerField(default=0)
    lightweight_successes = models.PositiveIntegerField(default=0)
    stats = models.BinaryField(
        default=bytes, help_text="The prompt's statistics (float32 little-endian), not its text."
    )
    verdicts = models.PositiveIntegerField(
        default=0, help_text="Client verdicts on whether the powerful tier was needed."
    )
    need_votes = models.PositiveIntegerField(
        default=0, help_text="Verdicts that said the powerful tier was needed."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service_type", "prompt_hash"], name="unique_exemplar_per_service"
            )
        ]

    def __str__(self) -> str:
        return f"exemplar {self.prompt_hash[:12]} ({self.service_type_id})"

    @property
    def success_rate(self) -> float:
        # Laplace's rule: an exemplar never tried on the lightweight tier counts as a coin toss.
        return (self.lightweight_successes + 1) / (self.lightweight_attempts + 2)


class FoldedOutcomeBatch(models.Model):
    """A batch of routing outcomes already folded into the exemplars, by the id of its claim (see
    `exemplars.flush_outcomes`): written in the same transaction as the fold, so a batch whose job
    died after committing, or that two jobs hold at once, is folded exactly once."""

    claim_id = models.CharField(max_length=32, unique=True)
    events = models.PositiveIntegerField()
    folded_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"outcome batch {self.claim_id} ({self.events} events)"


class RoutingLabel(models.Model):
    """A labelled prompt a deployment imported (`import_routing_data`): which tier's model answered it
    correctly. The retraining job learns from these beside the shipped data and traffic verdicts."""

    key = models.CharField(max_length=200, unique=True, help_text="The row's `id` in its file.")
    prompt = models.TextField()
    weak = models.PositiveSmallIntegerField()
    strong = models.PositiveSmallIntegerField()
    domain = models.CharField(max_length=200, blank=True, default="")
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"routing label {self.key}"
