"""JSON:API rendering: DRF-JSONAPI's document building (or the fast path's document, see
``syncservice.jsonapi.fast``), encoded with orjson, with the ``jsonapi`` member on every
document."""

from __future__ import annotations

import decimal
from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer as DrfJSONRenderer
from rest_framework_json_api.renderers import JSONRenderer as DjaJSONRenderer

from syncservice.jsonapi import JSONAPI_VERSION, MEDIA_TYPE, fast

JSONAPI_MEMBER = {"version": JSONAPI_VERSION}


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    # Lazy translation strings and other str-like objects.
    return str(value)


def dumps(data: Any) -> bytes:
    # UTC datetimes as DRF writes them ("Z"): the fast path hands orjson the datetimes
    # themselves, and a datetime reaching the encoder any other way reads the same.
    return orjson.dumps(data, default=_default, option=orjson.OPT_UTC_Z)


class _OrjsonDocumentRenderer(DrfJSONRenderer):
    """The last step of rendering: adds ``jsonapi`` and encodes with orjson."""

    media_type = MEDIA_TYPE
    format = "vnd.api+json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if isinstance(data, dict):
            data = {"jsonapi": JSONAPI_MEMBER, **data}
        return dumps(data)


class JsonApiRenderer(DjaJSONRenderer, _OrjsonDocumentRenderer):
    """DRF-JSONAPI's renderer (compound documents, sparse fieldsets, relationships); its final
    ``super().render`` lands in ``_OrjsonDocumentRenderer`` through the MRO."""

    media_type = MEDIA_TYPE
    format = "vnd.api+json"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict) and "errors" in data:
            # Already an error document (see syncservice.jsonapi.errors).
            return _OrjsonDocumentRenderer.render(self, data)
        document = fast.compose(data)
        if document is not None:  # built by the fast path
            return _OrjsonDocumentRenderer.render(self, document)
        return super().render(data, accepted_media_type, renderer_context)
