"""The schema (``/api/v1/schema``) and Swagger UI (``/api/v1/docs``): public, with their own
renderers and DRF's plain content negotiation (not the JSON:API one), outside the JSON:API
query grammar. Their errors are JSON:API error documents like every other error."""

from __future__ import annotations

import threading

from django.conf import settings
from django.urls import get_urlconf
from django.utils import translation
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from syncservice.jsonapi import MEDIA_TYPE
from syncservice.jsonapi.renderers import JsonApiRenderer
from syncservice.openapi.operations import DOCS_OPERATION, SCHEMA_OPERATION, document_operations


class _PublicView:
    # No OPTIONS: its metadata would go through the HTML renderer of the docs page.
    http_method_names = ["get", "head"]
    authentication_classes = ()
    permission_classes = (AllowAny,)
    content_negotiation_class = DefaultContentNegotiation
    parser_classes = (JSONParser,)

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        # Errors are JSON:API documents, whatever the view renders otherwise.
        self.request.accepted_renderer = JsonApiRenderer()
        self.request.accepted_media_type = MEDIA_TYPE
        return response


@document_operations(get=SCHEMA_OPERATION)
class SchemaView(_PublicView, SpectacularAPIView):
    """This OpenAPI 3 document: YAML by default; JSON with ``?format=json`` or
    ``Accept: application/json`` (or ``application/vnd.oai.openapi+json``)."""

    # Generated once per process (the code cannot change under it): a public endpoint must
    # not cost a full generation per request.
    _cache: dict[tuple, dict] = {}
    _lock = threading.Lock()

    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def _get_schema_response(self, request):
        version = self.api_version or request.version or self._get_version_parameter(request)
        key = (get_urlconf() or settings.ROOT_URLCONF, version, translation.get_language())
        with self._lock:
            schema = self._cache.get(key)
            if schema is None:
                generator = self.generator_class(urlconf=self.urlconf, api_version=version,
                                                 patterns=self.patterns)
                schema = generator.get_schema(request=request, public=self.serve_public)
                self._cache[key] = schema
        filename = self._get_filename(request, version)
        return Response(data=schema,
                        headers={"Content-Disposition": f'inline; filename="{filename}"'})


@document_operations(get=DOCS_OPERATION)
class SwaggerView(_PublicView, SpectacularSwaggerView):
    """Swagger UI over the schema, with its assets served locally (drf-spectacular-sidecar)."""

    url_name = "openapi-schema"

    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
