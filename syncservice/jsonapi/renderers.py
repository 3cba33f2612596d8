"""JSON:API rendering: DRF-JSONAPI's document building (or the read path's document, see
``syncservice.jsonapi.read``), encoded with orjson, with the ``jsonapi`` member on every
document."""

from __future__ import annotations

import decimal
from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer as DrfJSONRenderer
from rest_framework_json_api.renderers import JSONRenderer as DjaJSONRenderer

from syncservice.jsonapi import JSONAPI_VERSION, MEDIA_TYPE, read

JSONAPI_MEMBER = {"version": JSONAPI_VERSION}


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    # Lazy translation strings and other str-like objects.
    return str(value)


_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what orjson encodes as integers


def _bounded(value: Any) -> Any:
    """``value`` with integers orjson cannot encode as floats, as they came in: orjson reads
    a number beyond 64 bits as a float, which PostgreSQL's jsonb stores as a plain numeric
    and hands back as a Python int."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if _INT_MIN <= value <= _INT_MAX else float(value)
    if isinstance(value, dict):
        return {key: _bounded(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_bounded(item) for item in value]
    return value


def dumps(data: Any) -> bytes:
    # UTC datetimes as DRF writes them ("Z"): the read path hands orjson the datetimes
    # themselves, and a datetime reaching the encoder any other way reads the same.
    try:
        return orjson.dumps(data, default=_default, option=orjson.OPT_UTC_Z)
    except TypeError as exc:
        if "64-bit" not in str(exc):
            raise
        # Rare (a stored free-form value with a huge number): the slow walk, not a 500.
        return orjson.dumps(_bounded(data), default=_default, option=orjson.OPT_UTC_Z)


class _OrjsonDocumentRenderer(DrfJSONRenderer):
    """The last step of rendering: adds ``jsonapi`` and encodes with orjson."""

    media_type = MEDIA_TYPE
    format = "vnd.api+json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if isinstance(data, dict):
            trim = getattr(self, "_trim", None)
            if trim is not None:  # DRF-JSONAPI's document (JsonApiRenderer's stock path)
                data = trim(data)
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
        view = (renderer_context or {}).get("view")
        query = getattr(view, "jsonapi_query", None)
        self._hidden = getattr(query, "hidden_relationships", None) or {}
        document = read.compose(data)
        if document is not None:  # built by the read path
            return _OrjsonDocumentRenderer.render(self, document)
        return super().render(data, accepted_media_type, renderer_context)

    def _trim(self, document):
        """Drops the relationships serialized only to include their resources (see
        ``query.hidden_relationships``): a sparse fieldset's resource objects carry exactly
        the fields asked for."""
        hidden = getattr(self, "_hidden", None)
        if not hidden or not isinstance(document, dict):
            return document
        data = document.get("data")
        resources = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
        for resource in [*resources, *(document.get("included") or [])]:
            names = hidden.get(resource.get("type"))
            relationships = resource.get("relationships")
            if names and relationships:
                for name in names:
                    relationships.pop(name, None)
                if not relationships:
                    del resource["relationships"]
        return document

