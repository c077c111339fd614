"""The dashboard's forms. They only parse what the browser sends (text to numbers, JSON text to
objects); every rule about the configuration is the services' own, reported through
`dashboard.errors`."""

import json
from typing import Any

from django import forms
from django.core.validators import RegexValidator

from monitoring.degradation import Level
from monitoring.errors import COMPONENTS
from monitoring.settings_schema import CATEGORIES
from routing.service_types import Adapter, LoadBalancer, ServiceKind, Tier


def _choices(enum: type, blank: str | None = None) -> list[tuple[str, str]]:
    options = [(m.value, m.value) for m in enum]  # type: ignore[attr-defined]
    return [("", blank), *options] if blank is not None else options


class JSONTextField(forms.CharField):
    """A JSON value in a textarea; empty means null. The services judge the value itself."""

    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "json"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return value
        return "" if value is None else json.dumps(value, indent=2, sort_keys=True)

    def to_python(self, value: Any) -> Any:
        text = (super().to_python(value) or "").strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}).") from None


class ServiceTypeForm(forms.Form):
    name = forms.ChoiceField(choices=_choices(ServiceKind), label="Service type")
    load_balancer = forms.ChoiceField(choices=_choices(LoadBalancer), label="Load balancer")
    retries = forms.IntegerField(min_value=0, help_text="Attempts on another instance, 0-10.")
    connect_timeout_ms = forms.IntegerField(min_value=1, label="Connect timeout (ms)")
    request_timeout_ms = forms.IntegerField(min_value=1, label="Request timeout (ms)")
    rate_limit = JSONTextField(
        label="Rate limit (JSON)",
        help_text='null, or {"algorithm": "token_bucket", "capacity": 100, "refillRate": 10}',
    )
    circuit_breaker = JSONTextField(
        label="Circuit breaker (JSON)",
        help_text='{"enabled": true, "failureThreshold": 5, "recoveryTimeout": 30000, "successThreshold": 2}',
    )
    fallback = JSONTextField(
        label="Fallback (JSON)", help_text='null, or {"models": ["llama3:8b"]}'
    )
    aliases = JSONTextField(
        label="Model aliases (JSON)",
        help_text='Names clients may send for a model: {"gpt-4o": "llama3:70b"}',
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields.pop("name")


class InstanceForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="The model name clients send.")
    base_url = forms.CharField(max_length=500, label="Base URL")
    api_key = forms.CharField(
        max_length=500,
        required=False,
        label="API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    weight = forms.IntegerField(min_value=1, max_value=10_000, initial=1)
    enabled = forms.BooleanField(required=False, initial=True)
    adapter = forms.ChoiceField(choices=_choices(Adapter), initial=Adapter.OPENAI.value)
    path = forms.CharField(max_length=300, required=False, help_text="Upstream path override.")
    upstream_model = forms.CharField(
        max_length=200,
        required=False,
        label="Upstream model",
        help_text="The name sent upstream (an Azure deployment, a provider's name); empty: the "
        "name clients send.",
    )
    input_cost_per_million = forms.FloatField(
        required=False, min_value=0.0, label="Input price", help_text="USD per million tokens."
    )
    output_cost_per_million = forms.FloatField(
        required=False, min_value=0.0, label="Output price", help_text="USD per million tokens."
    )
    responses_api = forms.BooleanField(
        required=False,
        label="Serves the Responses API",
        help_text="Pass /v1/responses through instead of translating it to chat completions.",
    )
    tier = forms.ChoiceField(
        choices=_choices(Tier, blank="(none)"), required=False, help_text="For neural routing."
    )
    headers = JSONTextField(label="Headers (JSON)", help_text='{"X-Org": "research"}')
    rate_limit = JSONTextField(label="Rate limit override (JSON)")
    circuit_breaker = JSONTextField(label="Circuit breaker override (JSON)")

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        if editing:
            self.fields["api_key"].help_text = "Leave empty to keep the stored key."
            self.fields[
                "headers"
            ].help_text = (
                "Secret headers are shown masked; leave a masked value as it is to keep it."
            )

    def service_fields(self) -> dict[str, Any]:
        """The cleaned data as the services' keyword arguments."""
        data = dict(self.cleaned_data)
        data["headers"] = data["headers"] or {}
        if self.editing and not data["api_key"]:
            data.pop("api_key")
        return data


class RouterSettingsForm(forms.Form):
    model_path = forms.CharField(max_length=500, label="Model file")
    confidence_threshold = forms.FloatField(label="Confidence threshold")
    max_uncertainty = forms.FloatField(label="Maximum uncertainty")
    enable_circuit_breaker = forms.BooleanField(required=False, label="Circuit breaker enabled")
    circuit_breaker_threshold = forms.IntegerField(label="Breaker threshold (failures)")
    enable_quantization = forms.BooleanField(required=False, label="Quantize to int8")
    target_powerful_share = forms.FloatField(
        label="Target share of powerful calls",
        help_text="From 0 to 1: the calibrated threshold sends this share of prompts to the powerful tier.",
    )


class MonitoringSettingsForm(forms.Form):
    """The monitoring settings, flattened: `sampling` and `performance` are two fields each."""

    enabled = forms.BooleanField(required=False, label="Monitoring enabled")
    # Not `prefix`: that name is the form's own (the HTML name prefix).
    metric_prefix = forms.CharField(max_length=100, label="Metric prefix")
    collection_interval = forms.CharField(
        max_length=40, label="Collection interval", help_text="ISO-8601 duration, e.g. PT30S."
    )
    enabled_categories = forms.MultipleChoiceField(
        choices=[(c, c) for c in CATEGORIES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Enabled categories",
    )
    custom_tags = JSONTextField(
        label="Custom tags (JSON)", help_text='Constant labels of every series: {"env": "prod"}'
    )
    sampling_enabled = forms.BooleanField(required=False, label="Sampling enabled")
    sampling_rate = forms.FloatField(label="Sampling rate", help_text="Between 0 and 1.")
    batch_size = forms.IntegerField(label="Batch size")
    flush_interval = forms.CharField(
        max_length=40, label="Flush interval", help_text="ISO-8601 duration, e.g. PT10S."
    )

    # The services' error keys -> fields.
    ERROR_FIELDS = {
        "prefix": "metric_prefix",
        "collectionInterval": "collection_interval",
        "enabledCategories": "enabled_categories",
        "customTags": "custom_tags",
        "sampling.enabled": "sampling_enabled",
        "sampling.rate": "sampling_rate",
        "performance.batchSize": "batch_size",
        "performance.flushInterval": "flush_interval",
    }

    @classmethod
    def from_settings(cls, content: dict[str, Any]) -> "MonitoringSettingsForm":
        return cls(
            initial={
                "enabled": content["enabled"],
                "metric_prefix": content["prefix"],
                "collection_interval": content["collectionInterval"],
                "enabled_categories": content["enabledCategories"],
                "custom_tags": content["customTags"],
                "sampling_enabled": content["sampling"]["enabled"],
                "sampling_rate": content["sampling"]["rate"],
                "batch_size": content["performance"]["batchSize"],
                "flush_interval": content["performance"]["flushInterval"],
            }
        )

    def service_fields(self) -> dict[str, Any]:
        """The cleaned data as `monitoring_settings_update`'s camelCase keyword arguments."""
        data = self.cleaned_data
        return {
            "enabled": data["enabled"],
            "prefix": data["metric_prefix"],
            "collectionInterval": data["collection_interval"],
            "enabledCategories": data["enabled_categories"],
            "customTags": data["custom_tags"] if data["custom_tags"] is not None else {},
            "sampling": {"enabled": data["sampling_enabled"], "rate": data["sampling_rate"]},
            "performance": {
                "batchSize": data["batch_size"],
                "flushInterval": data["flush_interval"],
            },
        }


class DegradationLevelForm(forms.Form):
    level = forms.ChoiceField(choices=[(lv.value, lv.value) for lv in Level], label="Level")


class DegradationAutoForm(forms.Form):
    enabled = forms.BooleanField(required=False)


class ErrorResetForm(forms.Form):
    component = forms.ChoiceField(
        choices=[("", "every component"), *((c, c) for c in COMPONENTS)], required=False
    )


class TokenFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False,
        choices=[("", "any"), ("ACTIVE", "ACTIVE"), ("REVOKED", "REVOKED"), ("EXPIRED", "EXPIRED")],
    )
    user = forms.CharField(required=False, label="User id", max_length=20)


class TokenRevokeForm(forms.Form):
    reason = forms.CharField(max_length=255, required=False, label="Reason")


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100)
    allowed_service_types = forms.MultipleChoiceField(
        choices=_choices(ServiceKind),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Allowed service types",
        help_text="None ticked: all.",
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires at (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    requests_per_minute = forms.IntegerField(
        required=False, min_value=1, label="Requests per minute"
    )
    tokens_per_minute = forms.IntegerField(required=False, min_value=1, label="Tokens per minute")
    max_budget = forms.FloatField(
        required=False, min_value=0.0, label="Budget (USD)", help_text="Empty: no budget."
    )
    budget_duration = forms.RegexField(
        r"^([1-9][0-9]{0,5}[smhd])?$",
        required=False,
        label="Budget period",
        help_text="Such as 30d, 12h or 15m; empty: the budget never resets.",
    )
    allowed_models = forms.CharField(
        required=False,
        label="Models",
        help_text="Model names, separated by commas; empty: any.",
    )
    metadata = JSONTextField(label="Metadata (JSON)", help_text='{"team": "search"}')

    def clean_allowed_models(self) -> list[str]:
        names = [name.strip() for name in self.cleaned_data["allowed_models"].split(",")]
        return sorted({name for name in names if name})

    def clean_metadata(self) -> dict[str, Any]:
        value = self.cleaned_data["metadata"]
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError("Must be a JSON object.")
        return value


class DiffForm(forms.Form):
    a = forms.TypedChoiceField(coerce=int, label="Version A")
    b = forms.TypedChoiceField(coerce=int, label="Version B")

    def __init__(self, *args: Any, numbers: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("a", "b"):
            self.fields[name].choices = [(n, f"v{n}") for n in numbers]  # type: ignore[attr-defined]


_STATUS = RegexValidator(
    r"^([1-5][0-9][0-9]|[1-5]xx)$", "A status code (404) or a class (1xx, 2xx, 3xx, 4xx, 5xx)."
)


class RequestFilterForm(forms.Form):
    """The filters of the request history, as `/api/requests` takes them (times in UTC)."""

    request_id = forms.CharField(required=False, max_length=128, label="Request id")
    key = forms.CharField(required=False, max_length=200, label="API key (id or name)")
    model = forms.CharField(required=False, max_length=200, label="Model")
    instance = forms.CharField(required=False, max_length=720, label="Instance")
    status = forms.CharField(
        required=False, max_length=3, validators=[_STATUS], label="Status", help_text="429 or 5xx"
    )
    start = forms.DateTimeField(
        required=False,
        label="From (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    end = forms.DateTimeField(
        required=False,
        label="To (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", "Must not be before From.")
        return cleaned


class UsageRangeForm(forms.Form):
    days = forms.ChoiceField(
        required=False,
        choices=[
            ("1", "last day"),
            ("7", "last 7 days"),
            ("30", "last 30 days"),
            ("90", "last 90 days"),
        ],
        label="Period",
    )

    def period_days(self) -> int:
        """The days chosen; 30 unless a valid choice was sent."""
        return int(self.cleaned_data["days"] or 30) if self.is_valid() else 30
