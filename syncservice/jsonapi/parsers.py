"""Request bodies: JSON:API documents only (``{"data": {"type", "attributes", ...}}``).

The one place every write document passes (creates, updates and action documents alike):
its size, its JSON, its structure (only the members JSON:API defines), and — for views that
say what their documents carry (``JsonApiViewSet.write_document``) — that it names no
attribute or relationship the endpoint does not know: a typo must be a 422 naming it, never
silently dropped.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.relations import ManyRelatedField, RelatedField
from rest_framework_json_api.parsers import JSONParser as DjaJSONParser

from syncservice.jsonapi import MEDIA_TYPE

# The members JSON:API 1.1 allows in a request document and in its resource object.
DOCUMENT_MEMBERS = frozenset({"data", "jsonapi", "meta", "links"})
RESOURCE_MEMBERS = frozenset({"type", "id", "lid", "attributes", "relationships", "links",
                              "meta"})
# How many unknown members one answer names (a huge document stays a small answer).
MAX_REPORTED = 20


def _malformed(detail: str, pointer: str) -> ParseError:
    error = ParseError(detail)
    error.pointer = pointer
    return error


def _check_structure(document: Any) -> None:
    if not isinstance(document, dict) or not isinstance(document.get("data"), dict):
        raise ParseError("The request body must be a JSON:API document with a `data` object.")
    for name in document:
        if name not in DOCUMENT_MEMBERS:
            raise _malformed(f"Unknown top-level member {name[:100]!r}; a request document has "
                             f"{', '.join(sorted(DOCUMENT_MEMBERS))}.", f"/{name[:100]}")
    for name in ("jsonapi", "meta", "links"):
        if name in document and not isinstance(document[name], dict):
            raise _malformed(f"`{name}` must be an object.", f"/{name}")
    data = document["data"]
    for name in data:
        if name not in RESOURCE_MEMBERS:
            raise _malformed(f"Unknown member {name[:100]!r} of the resource object; it has "
                             f"{', '.join(sorted(RESOURCE_MEMBERS))}.", f"/data/{name[:100]}")
    if not isinstance(data.get("type"), str):
        raise _malformed("The resource object in `data` needs a `type`.", "/data")
    if "id" in data and not isinstance(data["id"], str):
        raise _malformed("`data.id` must be a string.", "/data/id")
    for name in ("attributes", "meta", "links"):
        if name in data and not isinstance(data[name], dict):
            raise _malformed(f"`data.{name}` must be an object.", f"/data/{name}")
    relationships = data.get("relationships", {})
    if not isinstance(relationships, dict) or any(
            not isinstance(r, dict) for r in relationships.values()):
        raise _malformed("`data.relationships` must be an object of relationship objects.",
                         "/data/relationships")


def _writable_members(serializer_class: type) -> tuple[set[str], set[str]]:
    """(attributes, relationships) a write serializer takes."""
    attributes, relationships = set(), set()
    for name, field in serializer_class().fields.items():
        if field.read_only or isinstance(field, serializers.HiddenField):
            continue
        if isinstance(field, (RelatedField, ManyRelatedField)):
            relationships.add(name)
        else:
            attributes.add(name)
    return attributes, relationships


def _listing(names: set[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def member_errors(data: dict, serializer_class: type, linkage: dict[str, str]) -> list[dict]:
    """The 422 errors of a resource object naming what the endpoint does not take: unknown
    attributes, unknown relationships, and relationships whose linkage is not an identifier
    of the expected type. Each error: {"pointer", "detail", "code"}."""
    from syncservice.jsonapi.errors import error_object

    attributes, relationships = _writable_members(serializer_class)
    relationships |= set(linkage)
    type_name = data.get("type")
    errors = []
    for name in data.get("attributes") or {}:
        if name not in attributes:
            errors.append(error_object(
                422, f"{name[:100]!r} is not an attribute of {type_name} documents here; "
                     f"attributes: {_listing(attributes)}.",
                "unknown_attribute", {"pointer": f"/data/attributes/{name[:100]}"}))
    for name, relationship in (data.get("relationships") or {}).items():
        pointer = f"/data/relationships/{name[:100]}"
        if name not in relationships:
            errors.append(error_object(
                422, f"{name[:100]!r} is not a relationship of {type_name} documents here; "
                     f"relationships: {_listing(relationships)}.",
                "unknown_relationship", {"pointer": pointer}))
            continue
        expected = linkage.get(name)
        if expected is None:
            continue  # a serializer's own relationship field validates its linkage
        identifier = relationship.get("data")
        if not isinstance(identifier, dict):
            errors.append(error_object(
                422, f"`{name}` needs `data`: a resource identifier "
                     f'{{"type": "{expected}", "id": "<uuid>"}}.',
                "invalid_linkage", {"pointer": f"{pointer}/data"}))
        elif identifier.get("type") != expected:
            errors.append(error_object(
                422, f"`{name}` links resources of type {expected!r}.", "invalid_linkage",
                {"pointer": f"{pointer}/data/type"}))
        elif not _is_uuid(identifier.get("id")):
            errors.append(error_object(
                422, f"`{name}` needs the id of a {expected} resource (a UUID).",
                "invalid_linkage", {"pointer": f"{pointer}/data/id"}))
    pointer = nul_pointer(data.get("attributes") or {}, "/data/attributes")
    if pointer is not None:
        errors.append(error_object(422, "Strings may not contain NUL characters (U+0000).",
                                   "null_character", {"pointer": pointer[:300]}))
    return errors[:MAX_REPORTED]


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def nul_pointer(value: Any, pointer: str) -> str | None:
    """The JSON pointer of the first string (or member name) holding a NUL character, or
    None: PostgreSQL can store none in text or jsonb, so no attribute takes one."""
    pending = [(value, pointer)]
    while pending:
        node, path = pending.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return path
        elif isinstance(node, dict):
            for key, child in node.items():
                child_path = f"{path}/{_escape(key)}"
                if "\x00" in key:
                    return child_path
                pending.append((child, child_path))
        elif isinstance(node, list):
            pending.extend((child, f"{path}/{index}") for index, child in enumerate(node))
    return None


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def read_json_body(stream, *, empty: str | None = None) -> Any:
    """The request body parsed as JSON, read no further than ``API_MAX_BODY_BYTES`` (413
    past it); ``empty`` is the 400's detail for an empty body (else it is invalid JSON)."""
    from syncservice.jsonapi.errors import PayloadTooLarge

    limit = settings.API_MAX_BODY_BYTES
    raw = stream.read(limit + 1) if stream is not None else b""
    if len(raw) > limit:
        raise PayloadTooLarge(f"The request document is larger than {limit} bytes.")
    if not raw and empty is not None:
        raise ParseError(empty)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"The request body is not valid JSON: {exc}") from exc


class JsonApiParser(DjaJSONParser):
    media_type = MEDIA_TYPE

    def parse(self, stream, media_type=None, parser_context=None):
        # Imported here: errors imports DRF's views, which import this parser.
        from syncservice.jsonapi.errors import InvalidMembers

        result = read_json_body(stream, empty="The request body must be a JSON:API document.")
        view = (parser_context or {}).get("view")
        if result == {} and getattr(view, "action", None) in getattr(
                view, "optional_document_actions", ()):
            # The reference's `-d '{}'`: an action whose attributes all have defaults.
            return {}
        _check_structure(result)
        parsed = self.parse_data(result, parser_context)  # 409 on a foreign type or id
        write_document = getattr(view, "write_document", None)
        if write_document is not None:
            serializer_class, linkage = write_document()
            errors = member_errors(result["data"], serializer_class, linkage)
            if errors:
                raise InvalidMembers(errors)
        return parsed
