"""Input and output shapes of the monitoring management API (camelCase, as the seed)."""

from rest_framework import serializers

from routerproject.serializers import StrictSerializer

from ..degradation import Level
from ..errors import COMPONENTS


class SamplingSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    rate = serializers.FloatField(min_value=0, max_value=1)


class PerformanceSerializer(serializers.Serializer):
    batchSize = serializers.IntegerField(min_value=1)
    flushInterval = serializers.CharField(help_text="ISO-8601 duration, e.g. PT10S.")


class MonitoringConfigSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    prefix = serializers.CharField()
    collectionInterval = serializers.CharField(help_text="ISO-8601 duration, e.g. PT30S.")
    enabledCategories = serializers.ListField(child=serializers.CharField())
    customTags = serializers.DictField(child=serializers.CharField())
    sampling = SamplingSerializer()
    performance = PerformanceSerializer()


class MonitoringConfigUpdateSerializer(StrictSerializer):
    """Any subset of the settings; nested objects may be sent in part."""

    enabled = serializers.BooleanField(required=False)
    prefix = serializers.CharField(required=False)
    collectionInterval = serializers.CharField(required=False)
    enabledCategories = serializers.ListField(child=serializers.CharField(), required=False)
    customTags = serializers.DictField(child=serializers.CharField(), required=False)
    sampling = serializers.DictField(required=False)
    performance = serializers.DictField(required=False)


class ConfigSnapshotSerializer(serializers.Serializer):
    config = MonitoringConfigSerializer()
    version = serializers.IntegerField(allow_null=True)
    generation = serializers.IntegerField(allow_null=True)
    degradationLevel = serializers.CharField()
    effectiveSamplingRate = serializers.FloatField()
    snapshotAt = serializers.DateTimeField()


class UpdatedFieldsSerializer(serializers.Serializer):
    updatedFields = serializers.ListField(child=serializers.CharField())
    config = MonitoringConfigSerializer()


class EnabledSerializer(StrictSerializer):
    enabled = serializers.BooleanField()


class PrefixSerializer(StrictSerializer):
    prefix = serializers.CharField()


class CollectionIntervalSerializer(StrictSerializer):
    collectionInterval = serializers.CharField(help_text="ISO-8601 duration, e.g. PT30S.")


class CategoriesSerializer(StrictSerializer):
    enabledCategories = serializers.ListField(child=serializers.CharField())


class CustomTagsSerializer(StrictSerializer):
    customTags = serializers.DictField(child=serializers.CharField())


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    healthy = serializers.BooleanField()
    details = serializers.DictField(child=serializers.CharField())
    problems = serializers.DictField(child=serializers.CharField())


class DegradationStatusSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=[level.value for level in Level])
    levelDescription = serializers.CharField()
    samplingRate = serializers.FloatField()
    autoModeEnabled = serializers.BooleanField()
    timeSinceLastChange = serializers.IntegerField(allow_null=True, help_text="Milliseconds.")
    errorComponentCount = serializers.IntegerField()


class LevelSerializer(StrictSerializer):
    level = serializers.ChoiceField(choices=[level.value for level in Level])


class ErrorResetSerializer(StrictSerializer):
    component = serializers.ChoiceField(
        choices=list(COMPONENTS), required=False, help_text="Omitted: every component."
    )
