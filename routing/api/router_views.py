"""The neural router as an API: score candidates like the reference router, take client feedback."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from authjwt.authentication import ApiKeyAuthentication, RevocableJWTAuthentication
from monitoring import metrics
from routerproject.envelope import envelope
from routerproject.exceptions import InvalidInput, NotFound
from routerproject.schema import responses
from routerproject.serializers import StrictSerializer

from ..live_config import get_live_config
from ..neural.model_breaker import tripped
from ..neural.route_request import RoutingRequestError
from ..neural_runtime import MODEL_ERRORS, record_feedback, runtime

# The model computes in float32: a component beyond its range would become infinite.
FLOAT32_MAX = 3.4028234663852886e38


def _component() -> serializers.FloatField:
    return serializers.FloatField(min_value=-FLOAT32_MAX, max_value=FLOAT32_MAX)


class CandidateSerializer(StrictSerializer):
    id = serializers.CharField()
    embedding = serializers.ListField(child=_component())
    metadata = serializers.DictField(required=False)
    created_at = serializers.FloatField(required=False, help_text="Unix seconds.")
    access_count = serializers.IntegerField(required=False, min_value=0)
    success_rate = serializers.FloatField(required=False, min_value=0, max_value=1)


class RouteRequestSerializer(StrictSerializer):
    query_embedding = serializers.ListField(child=_component())
    candidates = CandidateSerializer(many=True)
    metadata = serializers.DictField(required=False)


class DecisionSerializer(serializers.Serializer):
    candidate_id = serializers.CharField()
    confidence = serializers.FloatField()
    use_lightweight = serializers.BooleanField()
    uncertainty = serializers.FloatField()


class RouteResponseSerializer(serializers.Serializer):
    decisions = DecisionSerializer(many=True)
    inference_time_us = serializers.IntegerField()
    candidates_processed = serializers.IntegerField()
    feature_time_us = serializers.IntegerField()
    fallback = serializers.CharField(
        allow_null=True, help_text="Why every candidate went to the powerful tier."
    )


class RouteView(APIView):
    @extend_schema(
        summary="Score candidates with the neural router (the reference router's request and answer)",
        request=RouteRequestSerializer,
        responses=responses("Route", RouteResponseSerializer()),
    )
    def post(self, request: Request) -> Response:
        RouteRequestSerializer(data=request.data).is_valid(raise_exception=True)
        router = runtime.current(get_live_config().router)
        breaker = router.breaker
        try:
            result = router.route(request.data)
        except RoutingRequestError as exc:
            raise InvalidInput(str(exc)) from None
        metrics.observe_router_decision(
            lightweight=result.decisions[0].use_lightweight if result.decisions else None,
            inference_seconds=result.inference_time_us / 1e6 if result.fallback is None else None,
            error=result.fallback in MODEL_ERRORS,
            tripped=tripped(breaker, router.breaker),
        )
        return envelope(result.to_dict(), message="Routing decisions computed")


class FeedbackSerializer(StrictSerializer):
    requestId = serializers.CharField(help_text="The x-request-id of the routed /v1 answer.")
    success = serializers.BooleanField(help_text="Whether the answer was good enough.")
    powerfulNeeded = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Whether the prompt needed the powerful tier (the label the router retrains on).",
    )


class FeedbackView(APIView):
    # Applications send feedback with their /v1 API key; operators with their usual credentials.
    authentication_classes = [
        ApiKeyAuthentication,
        RevocableJWTAuthentication,
        SessionAuthentication,
        BasicAuthentication,
    ]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Tell the router whether a routed answer was good",
        request=FeedbackSerializer,
        responses=responses("Feedback", serializers.DictField(child=serializers.CharField())),
    )
    def post(self, request: Request) -> Response:
        serializer = FeedbackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        recorded = record_feedback(
            request_id=data["requestId"],
            success=data["success"],
            powerful_needed=data["powerfulNeeded"],
        )
        if recorded is None:
            raise NotFound(
                f"No routing decision for request {data['requestId']} (unknown or expired)"
            )
        return envelope(recorded, message="Feedback recorded")
