"""Reading the model name (and the JSON payload) out of a client request, without altering it."""

import json
import re
from typing import Any

from django.http import HttpRequest

from . import errors
from .endpoints import Endpoint

_MODEL_PART = re.compile(rb'name="model"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]*)\r\n')


def parse_model(
    endpoint: Endpoint, request: HttpRequest, body: bytes
) -> tuple[str, dict[str, Any] | None]:
    """(model, JSON payload or None for multipart). The bytes sent upstream stay the client's."""
    if endpoint.multipart:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise errors.bad_request("This endpoint takes multipart/form-data.")
        # The model is a small form field; scanning for it avoids parsing (and copying) the file.
        found = _MODEL_PART.search(body)
        model = found.group(1).decode("utf-8", "replace").strip() if found else ""
        if not model:
            raise errors.bad_request("The form field 'model' is required.", param="model")
        return model, None
    try:
        payload = json.loads(body)
    except ValueError:
        raise errors.bad_request("The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise errors.bad_request("The request body must be a JSON object.")
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise errors.bad_request("The member 'model' is required.", param="model")
    return model, payload
