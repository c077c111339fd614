"""The base of every /api input serializer: members it does not declare are refused, not dropped.

DRF ignores unknown members, so a misspelt or unsupported one (`maxBudget` on an API key) made a
write succeed without it: the caller believed a limit was set that was not. A 400 naming each
unknown member says so instead, as the nested settings (`routing.config_schema`) always did.
"""

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    def unknown_field_message(self, name: str) -> str:
        """What the 400 says about `name`; a subclass may point the caller elsewhere."""
        return "Unknown field."

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            # A declared read-only member is ignored, as DRF does: an answer may be sent back.
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: [self.unknown_field_message(name)] for name in unknown}
                )
        return super().to_internal_value(data)
