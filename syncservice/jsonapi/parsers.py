"""Request bodies: JSON:API documents only (``{"data": {"type", "attributes", ...}}``)."""

from __future__ import annotations

import orjson
from rest_framework.exceptions import ParseError
from rest_framework_json_api.parsers import JSONParser as DjaJSONParser

from syncservice.jsonapi import MEDIA_TYPE


class JsonApiParser(DjaJSONParser):
    media_type = MEDIA_TYPE

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
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
        return self.parse_data(result, parser_context)
