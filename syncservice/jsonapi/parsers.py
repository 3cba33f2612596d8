"""Request bodies: JSON:API documents only (``{"data": {"type", "attributes", ...}}``)."""

from __future__ import annotations

import orjson
from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework_json_api.parsers import JSONParser as DjaJSONParser

from syncservice.jsonapi import MEDIA_TYPE


class JsonApiParser(DjaJSONParser):
    media_type = MEDIA_TYPE

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            # Imported here: errors imports DRF's views, which import this parser.
            from syncservice.jsonapi.errors import PayloadTooLarge

            raise PayloadTooLarge(f"The request document is larger than {limit} bytes.")
        if not raw:
            raise ParseError("The request body must be a JSON:API document.")
        try:
            result = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(result, dict) or not isinstance(result.get("data"), dict):
            raise ParseError("The request body must be a JSON:API document with a `data` object.")
        if not isinstance(result["data"].get("type"), str):
            raise ParseError("The resource object in `data` needs a `type`.")
        attributes = result["data"].get("attributes", {})
        if not isinstance(attributes, dict):
            raise ParseError("`data.attributes` must be an object.")
        relationships = result["data"].get("relationships", {})
        if not isinstance(relationships, dict) or any(
                not isinstance(r, dict) for r in relationships.values()):
            raise ParseError("`data.relationships` must be an object of relationship objects.")
        return self.parse_data(result, parser_context)
