"""Content negotiation as JSON:API 1.1 says: 415 for a JSON:API Content-Type with
parameters other than ``ext``/``profile``, 406 when every JSON:API media type the client
accepts carries such parameters (or it accepts nothing we can produce)."""

from __future__ import annotations

from rest_framework.exceptions import NotAcceptable, UnsupportedMediaType
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.utils.mediatypes import _MediaType

from syncservice.jsonapi import MEDIA_TYPE

_ALLOWED_PARAMS = {"ext", "profile"}
_ACCEPTABLE_RANGES = {MEDIA_TYPE, "application/json", "application/*", "*/*"}


def _has_foreign_params(media: _MediaType) -> bool:
    return any(key not in _ALLOWED_PARAMS for key in media.params)


class JsonApiNegotiation(DefaultContentNegotiation):
    def select_parser(self, request, parsers):
        content_type = request.content_type or ""
        media = _MediaType(content_type)
        if f"{media.main_type}/{media.sub_type}" == MEDIA_TYPE and _has_foreign_params(media):
            raise UnsupportedMediaType(
                content_type,
                detail="The JSON:API media type takes no parameters other than ext and profile.",
            )
        return super().select_parser(request, parsers)

    def select_renderer(self, request, renderers, format_suffix=None):
        header = request.META.get("HTTP_ACCEPT", "") or "*/*"
        acceptable = False
        for item in header.split(","):
            media = _MediaType(item.strip())
            full = f"{media.main_type}/{media.sub_type}"
            params = {k: v for k, v in media.params.items() if k != "q"}
            if full == MEDIA_TYPE and any(k not in _ALLOWED_PARAMS for k in params):
                continue
            if full in _ACCEPTABLE_RANGES:
                acceptable = True
                break
        if not acceptable:
            raise NotAcceptable(
                detail=f"This API serves only {MEDIA_TYPE}; the Accept header was {header!r}."
            )
        renderer = renderers[0]
        return renderer, renderer.media_type
