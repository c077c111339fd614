"""Service type, instance and model endpoints at the paths of the management API document."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from configversions.selectors import live_snapshot, masked_snapshot
from configversions.services import configuration_reset
from routerproject.envelope import envelope
from routerproject.schema import responses

from .. import selectors, services
from ..representation import instance_content, instance_info, mask_instance
from ..service_types import ServiceKind
from .serializers import (
    InstanceInfoSerializer,
    InstanceInputSerializer,
    InstanceOutputSerializer,
    InstanceQuerySerializer,
    InstanceUpdateSerializer,
    ServiceTypeInputSerializer,
    ServiceTypeOutputSerializer,
)

SERVICE_TYPE = OpenApiParameter(
    "service_type",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=[kind.value for kind in ServiceKind],
)

ADAPTER_CLASS_NAMES = {
    "openai": "OpenAIAdapter",
    "ollama": "OllamaAdapter",
    "vllm": "VLLMAdapter",
    "gpustack": "GPUStackAdapter",
    "xinference": "XinferenceAdapter",
    "localai": "LocalAIAdapter",
}


def _services_view() -> dict[str, Any]:
    return masked_snapshot({"services": live_snapshot()["services"]})["services"]


def _service_view(name: str) -> dict[str, Any]:
    selectors.service_type_get(name=name)
    return _services_view()[name]


def _validated(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> Any:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ConfigurationView(APIView):
    @extend_schema(
        summary="Get all configuration of the system",
        responses=responses(
            "Configuration", serializers.DictField(child=ServiceTypeOutputSerializer())
        ),
    )
    def get(self, request: Request) -> Response:
        return envelope(_services_view(), message="Configuration retrieved successfully")


class ServiceTypeListView(APIView):
    @extend_schema(
        summary="List the configured service types",
        operation_id="config_type_services_list",
        responses=responses("ServiceTypes", serializers.ListField(child=serializers.CharField())),
    )
    def get(self, request: Request) -> Response:
        names = [service.name for service in selectors.service_type_list()]
        return envelope(names, message="Service types retrieved successfully")


class ServiceTypeDetailView(APIView):
    @extend_schema(
        summary="Get one service type",
        parameters=[SERVICE_TYPE],
        responses=responses("ServiceType", ServiceTypeOutputSerializer()),
    )
    def get(self, request: Request, service_type: str) -> Response:
        return envelope(
            _service_view(service_type), message="Service configuration retrieved successfully"
        )

    @extend_schema(
        summary="Create a service type",
        parameters=[SERVICE_TYPE],
        request=ServiceTypeInputSerializer,
        responses=responses(
            "ServiceTypeCreated", ServiceTypeOutputSerializer(), status=201, errors=(400, 409)
        ),
    )
    def post(self, request: Request, service_type: str) -> Response:
        fields = _validated(ServiceTypeInputSerializer, request.data, partial=True)
        services.service_type_create(name=service_type, actor=request.user, **fields)
        return envelope(
            _service_view(service_type),
            message="Service configuration created successfully",
            status=201,
        )

    @extend_schema(
        summary="Update a service type (fields given are changed)",
        parameters=[SERVICE_TYPE],
        request=ServiceTypeInputSerializer,
        responses=responses("ServiceTypeUpdated", ServiceTypeOutputSerializer()),
    )
    def put(self, request: Request, service_type: str) -> Response:
        fields = _validated(ServiceTypeInputSerializer, request.data, partial=True)
        services.service_type_update(name=service_type, actor=request.user, **fields)
        return envelope(
            _service_view(service_type), message="Service configuration updated successfully"
        )

    @extend_schema(
        summary="Delete a service type and its instances",
        parameters=[SERVICE_TYPE],
        responses=responses("ServiceTypeDeleted"),
    )
    def delete(self, request: Request, service_type: str) -> Response:
        services.service_type_delete(name=service_type, actor=request.user)
        return envelope(None, message="Service configuration deleted successfully")


def _models_payload(service_type: str | None) -> list[dict[str, Any]]:
    return [
        {
            "id": model,
            "object": "model",
            "created": int(instance.created_at.timestamp()),
            "owned_by": "model-router",
            "service_type": instance.service_type.name,
            "adapter": ADAPTER_CLASS_NAMES.get(instance.adapter, instance.adapter),
        }
        for model, instance in selectors.model_names(service_type=service_type)
    ]


class ServiceTypeModelsView(APIView):
    @extend_schema(
        summary="Models available under a service type",
        parameters=[SERVICE_TYPE],
        responses=responses(
            "ServiceTypeModels", serializers.ListField(child=serializers.CharField())
        ),
    )
    def get(self, request: Request, service_type: str) -> Response:
        models = [entry["id"] for entry in _models_payload(service_type)]
        return envelope(models, message="Model list retrieved successfully")


class ResetView(APIView):
    @extend_schema(
        summary="Reset the configuration to its defaults (as a new version)",
        request=None,
        responses=responses("Reset"),
    )
    def post(self, request: Request) -> Response:
        change = configuration_reset(actor=request.user)
        version = change.version.number if change.version else None
        return envelope({"version": version}, message="Configuration reset to defaults")


class ModelListView(APIView):
    @extend_schema(
        summary="All available models",
        responses=responses(
            "Models",
            serializers.DictField(
                child=serializers.JSONField(), help_text="{object: 'list', data: [model]}"
            ),
        ),
    )
    def get(self, request: Request) -> Response:
        return envelope(
            {"object": "list", "data": _models_payload(None)},
            message="Model list retrieved successfully",
        )


class InstanceListView(APIView):
    @extend_schema(
        summary="Instances of a service type",
        parameters=[SERVICE_TYPE],
        responses=responses("Instances", InstanceOutputSerializer(many=True)),
    )
    def get(self, request: Request, service_type: str) -> Response:
        data = [
            mask_instance(instance_content(i))
            for i in selectors.instance_list(service_type=service_type)
        ]
        return envelope(data, message="Instance list retrieved successfully")


class InstanceInfoView(APIView):
    @extend_schema(
        summary="One instance with its health",
        parameters=[SERVICE_TYPE, InstanceQuerySerializer],
        responses=responses("InstanceInfo", InstanceInfoSerializer()),
    )
    def get(self, request: Request, service_type: str) -> Response:
        query = _validated(InstanceQuerySerializer, request.query_params)
        instance = selectors.instance_get(
            service_type=service_type, name=query["modelName"], base_url=query["baseUrl"]
        )
        return envelope(
            instance_info(instance), message="Instance information retrieved successfully"
        )


class InstanceAddView(APIView):
    @extend_schema(
        summary="Add an instance",
        parameters=[SERVICE_TYPE],
        request=InstanceInputSerializer,
        responses=responses(
            "InstanceAdded", InstanceOutputSerializer(), status=201, errors=(400, 404, 409)
        ),
    )
    def post(self, request: Request, service_type: str) -> Response:
        fields = dict(_validated(InstanceInputSerializer, request.data))
        instance = services.instance_add(
            service_type=service_type,
            name=fields.pop("name"),
            base_url=fields.pop("base_url"),
            actor=request.user,
            **fields,
        )
        return envelope(
            mask_instance(instance_content(instance)),
            message="Instance added successfully",
            status=201,
        )


class InstanceUpdateView(APIView):
    @extend_schema(
        summary="Update an instance",
        parameters=[SERVICE_TYPE],
        request=InstanceUpdateSerializer,
        responses=responses("InstanceUpdated", InstanceOutputSerializer(), errors=(400, 404, 409)),
    )
    def put(self, request: Request, service_type: str) -> Response:
        data = _validated(InstanceUpdateSerializer, request.data, partial=True)
        instance = services.instance_update(
            service_type=service_type,
            instance_id=data["instanceId"],
            actor=request.user,
            **data["instance"],
        )
        return envelope(
            mask_instance(instance_content(instance)), message="Instance updated successfully"
        )


class InstanceDeleteView(APIView):
    @extend_schema(
        summary="Delete an instance",
        parameters=[SERVICE_TYPE, InstanceQuerySerializer],
        responses=responses("InstanceDeleted"),
    )
    def delete(self, request: Request, service_type: str) -> Response:
        query = _validated(InstanceQuerySerializer, request.query_params)
        services.instance_delete(
            service_type=service_type,
            name=query["modelName"],
            base_url=query["baseUrl"],
            actor=request.user,
        )
        return envelope(None, message="Instance deleted successfully")
