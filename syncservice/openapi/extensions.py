"""drf-spectacular extensions: the service's authentication schemes and the published schema of
``SchemaField``. Imported by ``syncservice.openapi.schema`` (the AutoSchema), so only the
processes that generate the document load drf-spectacular."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)

from syncservice.accounts.authentication import COOKIE_NAME
from syncservice.jsonschema import openapi30, register_component
from syncservice.jsonschema.fields import SchemaField

KEY_FORMAT = "An API key, e.g. `ssk_1a2b3c4d5e6f_...`; `read` keys may only read."


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """One key, three ways to present it: ``X-API-Key``, ``Authorization: Bearer``, or the
    ``vai_token`` cookie."""

    target_class = "syncservice.accounts.authentication.ApiKeyAuthentication"
    match_subclasses = True
    name = ["ApiKeyAuth", "BearerAuth", "CookieAuth"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": KEY_FORMAT},
            {"type": "http", "scheme": "bearer", "description": KEY_FORMAT},
            {"type": "apiKey", "in": "cookie", "name": COOKIE_NAME, "description": KEY_FORMAT},
        ]

    def get_security_requirement(self, auto_schema):
        return [{name: []} for name in self.name]


class SessionScheme(OpenApiAuthenticationExtension):
    """A Django admin session (staff see every project); writes need the CSRF token."""

    target_class = "syncservice.accounts.authentication.SessionAuthentication"
    match_subclasses = True
    name = "SessionAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME,
                "description": "A Django admin session (log in at /admin/); unsafe methods "
                               "also need the `X-CSRFToken` header."}


class SchemaFieldExtension(OpenApiSerializerFieldExtension):
    """Publishes a ``SchemaField``'s own schema (as a component when it is named)."""

    target_class = SchemaField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field: SchemaField = self.target
        if field.openapi is not None:
            return field.openapi(auto_schema)
        schema = openapi30(field.schema)
        if not field.component:
            return schema
        return register_component(auto_schema, field.component, schema)
