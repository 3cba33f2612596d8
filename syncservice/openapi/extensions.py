"""drf-spectacular extensions: the service's authentication schemes."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from syncservice.accounts.authentication import COOKIE_NAME

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
