"""Django REST framework and drf-spectacular."""

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First listed decides the 401 challenge: API clients get 401 with `WWW-Authenticate: Bearer`.
        "authjwt.authentication.RevocableJWTAuthentication",
        # The browsable API and the dashboard sign in with a Django session.
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["routerproject.permissions.IsOperator"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "routerproject.renderers.StaffOnlyBrowsableNegotiation",
    "DEFAULT_PAGINATION_CLASS": "routerproject.pagination.PageSizePagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "routerproject.exceptions.envelope_exception_handler",
    "DEFAULT_METADATA_CLASS": "routerproject.envelope.EnvelopedMetadata",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DATETIME_FORMAT": "iso-8601",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "routerproject management API",
    "DESCRIPTION": (
        "Management API of the AI model gateway (service types, instances, models, configuration "
        "versions, monitoring, JWT tokens). Every response uses the envelope "
        "{success, message, data, errorCode, timestamp}."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "routerproject.schema.document_database_outage",
    ],
}
