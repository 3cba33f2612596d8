"""Content negotiation as JSON:API 1.1 says: 415 for a JSON:API Content-Type with
parameters other than ``ext``/``profile`` or with an extension (``ext``) the endpoint does
not apply, 406 when every JSON:API media type the client accepts carries such parameters or
extensions (or it accepts nothing we can produce).

A view applies the extensions in its ``supported_extensions`` (only the Atomic Operations
endpoint has one); ``required_extensions`` are those its request documents must announce."""

from __future__ import annotations

from rest_framework.exceptions import NotAcceptable, UnsupportedMediaType
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.utils.mediatypes import _MediaType

from syncservice.jsonapi import MEDIA_TYPE

_ALLOWED_PARAMS = {"ext", "profile"}
_ACCEPTABLE_RANGES = {MEDIA_TYPE, "application/json", "application/*", "*/*"}


def _has_foreign_params(media: _MediaType) -> bool:
    return any(key not in _ALLOWED_PARAMS for key in media.params)


def extensions(media: _MediaType) -> set[str]:
    """The URIs of a JSON:API media type's ``ext`` parameter (a space-separated list)."""
    raw = media.params.get("ext", "")
    if isinstance(raw, bytes):
        raw = raw.decode("latin-1")
    return set(raw.strip().strip('"').split())


def _view_extensions(view) -> tuple[frozenset, frozenset]:
    return (frozenset(getattr(view, "supported_extensions", ())),
            frozenset(getattr(view, "required_extensions", ())))


class JsonApiNegotiation(DefaultContentNegotiation):
    def select_parser(self, request, parsers):
        content_type = request.content_type or ""
        media = _MediaType(content_type)
        if f"{media.main_type}/{media.sub_type}" == MEDIA_TYPE and _has_foreign_params(media):
            raise UnsupportedMediaType(
                content_type,
                detail="The JSON:API media type takes no parameters other than ext and profile.",
            )
        supported, required = _view_extensions(request.parser_context.get("view"))
        if f"{media.main_type}/{media.sub_type}" == MEDIA_TYPE:
            given = extensions(media)
            unsupported = sorted(given - supported)
            if unsupported:
                raise UnsupportedMediaType(content_type, detail=(
                    f"This endpoint does not support the extension {unsupported[0][:200]!r}"
                    + (f"; it supports {', '.join(sorted(supported))}." if supported else
                       "; the Atomic Operations extension is served at /api/v1/operations.")))
            missing = sorted(required - given)
            if missing:
                raise UnsupportedMediaType(content_type, detail=(
                    f"This endpoint takes documents of the extension {missing[0]}: "
                    f'Content-Type: {MEDIA_TYPE}; ext="{missing[0]}".'))
        return super().select_parser(request, parsers)

    def select_renderer(self, request, renderers, format_suffix=None):
        header = request.META.get("HTTP_ACCEPT", "") or "*/*"
        supported, _ = _view_extensions(getattr(request, "parser_context", {}).get("view"))
        acceptable = False
        for item in header.split(","):
            media = _MediaType(item.strip())
            full = f"{media.main_type}/{media.sub_type}"
            params = {k: v for k, v in media.params.items() if k != "q"}
            if full == MEDIA_TYPE and any(k not in _ALLOWED_PARAMS for k in params):
                continue
            if full == MEDIA_TYPE and extensions(media) - supported:
                continue  # an extension this endpoint does not apply
            if full in _ACCEPTABLE_RANGES:
                acceptable = True
                break
        if not acceptable:
            raise NotAcceptable(
                detail=f"This API serves only {MEDIA_TYPE}; the Accept header was {header!r}."
            )
        renderer = renderers[0]
        return renderer, renderer.media_type
