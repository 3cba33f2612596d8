"""JSON Schema fragments of JSON:API 1.1 documents, as this service writes and reads them."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from syncservice.jsonapi import MEDIA_TYPE

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
# Links are plain strings: the service keeps "[", "]" and "," unescaped in query strings,
# which a strict `format: uri` would reject.
LINK: Schema = {"type": "string", "description": "An absolute URL."}
META: Schema = {"type": "object", "additionalProperties": True,
                "description": "Non-standard meta-information."}

JSONAPI_OBJECT: Schema = {
    "type": "object",
    "properties": {"version": {"type": "string", "enum": ["1.1"]}},
    "required": ["version"],
    "description": "The JSON:API version this document follows.",
}

ERROR_OBJECT: Schema = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "pattern": "^[1-5][0-9][0-9]$",
                   "description": "The HTTP status code, as a string."},
        "code": {"type": "string", "description": "A machine-readable error code."},
        "title": {"type": "string", "description": "The HTTP status phrase."},
        "detail": {"type": "string", "description": "What went wrong, for a person."},
        "source": {
            "type": "object",
            "properties": {
                "pointer": {"type": "string",
                            "description": "JSON Pointer to the faulty member of the request "
                                           "document, e.g. `/data/attributes/name`."},
                "parameter": {"type": "string",
                              "description": "The faulty query parameter, e.g. `page[size]`."},
                "header": {"type": "string"},
            },
        },
        "meta": META,
    },
    "required": ["status", "code", "title", "detail"],
}

ERROR_DOCUMENT: Schema = {
    "type": "object",
    "properties": {
        "jsonapi": {"$ref": "#/components/schemas/JsonApi"},
        "errors": {"type": "array", "minItems": 1,
                   "items": {"$ref": "#/components/schemas/ErrorObject"}},
        "meta": META,
        "links": {"type": "object", "additionalProperties": LINK},
    },
    "required": ["errors"],
    "additionalProperties": False,
}

# When each error status happens; every error body is an ErrorDocument (but 414's).
ERROR_DESCRIPTIONS = {
    400: "Malformed request: an unknown, repeated or invalid query parameter "
         "(`source.parameter` names it), or a body that is not a JSON:API document "
         "(`source.pointer` names the member).",
    401: "No credentials, or an invalid, expired or revoked API key.",
    403: "The credentials do not allow this request (e.g. a `read` key on a write).",
    404: "No such resource, or it belongs to another project.",
    405: "The method is not allowed on this path (`Allow` lists those that are); answered "
         "before authentication.",
    406: "The `Accept` header excludes every media type this endpoint serves.",
    409: "The request conflicts with the resource's state, or the document's `type`/`id` "
         "does not match the endpoint.",
    410: "The resource is no longer available.",
    413: "The request body is larger than the server takes (`API_MAX_BODY_BYTES`, 1 MiB by "
         "default), whatever the method; answered before authentication.",
    414: "The request line (method, path and query string) is longer than the HTTP server "
         "takes (gunicorn's `--limit-request-line`, 4094 bytes by default). Answered by the "
         "HTTP server itself, before the application, as a short HTML page.",
    415: "Unsupported `Content-Type` (the JSON:API media type takes only `ext` and "
         "`profile` parameters).",
    422: "The request document is invalid (`source.pointer` names the member): an invalid "
         "value, an attribute or relationship this endpoint does not take, or a string "
         "holding a NUL character (U+0000), which no attribute takes.",
    429: "Too many requests for this API key (or address) in the current window "
         "(`API_RATE_LIMIT`); `Retry-After` says when to try again.",
}
ERROR_STATUSES = tuple(ERROR_DESCRIPTIONS)

# Headers of error responses, as the server sends them.
ERROR_HEADERS: dict[int, dict[str, Schema]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"},
                               "description": "The accepted schemes (API key, bearer)."}},
    405: {"Allow": {"schema": {"type": "string"}, "required": True,
                    "description": "The methods this path serves, e.g. `GET, HEAD, OPTIONS`."}},
    429: {"Retry-After": {"schema": {"type": "integer", "minimum": 0}, "required": True,
                          "description": "Seconds to wait before the next request."}},
}


def error_response(status: int) -> Schema:
    """The shared response component of an error status."""
    response: Schema = {"description": ERROR_DESCRIPTIONS[status]}
    if status == 414:
        response["content"] = {"text/html": {"schema": {"type": "string"}}}
    else:
        response["content"] = {MEDIA_TYPE: {
            "schema": {"$ref": "#/components/schemas/ErrorDocument"}}}
    if status in ERROR_HEADERS:
        response["headers"] = ERROR_HEADERS[status]
    return response


def error_response_name(status: int) -> str:
    return "".join(word.capitalize() for word in HTTPStatus(status).name.split("_"))


def pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in
                   name.replace("-", "_").replace(".", "_").split("_") if part)


def identifier(type_names: list[str] | None, id_schema: Schema | None = None) -> Schema:
    type_schema: Schema = {"type": "string"}
    if type_names:
        type_schema["enum"] = sorted(type_names)
    return {"type": "object", "properties": {"type": type_schema, "id": id_schema or STRING},
            "required": ["type", "id"]}


def relationship(type_names: list[str] | None, many: bool) -> Schema:
    """A relationship object of a response: linkage, links and meta."""
    linkage = identifier(type_names)
    data = {"type": "array", "items": linkage} if many else {**linkage, "nullable": True}
    return {
        "type": "object",
        "properties": {
            "data": data,
            "links": {"type": "object",
                      "properties": {"related": LINK, "self": LINK},
                      "additionalProperties": LINK},
            "meta": META,
        },
    }


def attributes_object(properties: Schema) -> Schema:
    """The ``attributes`` member of a response's resource object: these members, none
    required (sparse fieldsets may leave any out), no other."""
    return {"type": "object", "properties": properties, "additionalProperties": False}


def resource_object(type_name: str, attributes: Schema, relationships: Schema | None,
                    description: str | None = None) -> Schema:
    """A resource object of a response. Nothing in ``attributes`` or ``relationships`` is
    required: sparse fieldsets (``fields``) may leave any of them out."""
    properties: Schema = {
        "type": {"type": "string", "enum": [type_name]},
        "id": STRING,
        "attributes": attributes,
    }
    if relationships is not None:
        properties["relationships"] = relationships
    properties["links"] = {"type": "object", "properties": {"self": LINK},
                           "additionalProperties": LINK}
    properties["meta"] = META
    schema: Schema = {"type": "object", "properties": properties,
                      "required": ["type", "id"], "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


def document(data: Schema, included: list[Schema] | None = None, *,
             collection: bool = False, paginated: bool = False) -> Schema:
    """A response document whose primary data is ``data`` (a resource object schema or a
    reference), or an array of them with ``collection``."""
    properties: Schema = {
        "jsonapi": {"$ref": "#/components/schemas/JsonApi"},
        "data": {"type": "array", "items": data} if collection else data,
    }
    if included:
        properties["included"] = {
            "type": "array",
            "items": included[0] if len(included) == 1 else {"anyOf": included},
            "description": "The related resources asked for with `included` (or `include`), "
                           "each once.",
        }
    if paginated:
        properties["links"] = {"$ref": "#/components/schemas/PaginationLinks"}
        properties["meta"] = {"$ref": "#/components/schemas/PaginationMeta"}
    else:
        properties["links"] = {"type": "object", "additionalProperties": LINK}
        properties["meta"] = META
    return {"type": "object", "properties": properties, "required": ["data"],
            "additionalProperties": False}


PAGINATION_LINKS: Schema = {
    "type": "object",
    "properties": {
        "self": LINK,
        "first": LINK,
        "prev": {**LINK, "nullable": True,
                 "description": "Page numbers: only when `page[number]` > 1. Cursor pages: "
                                "always, null when no page precedes."},
        "next": {**LINK, "nullable": True,
                 "description": "Only when another page exists (cursor pages: always, null "
                                "when none follows)."},
        "last": {**LINK, "description": "Page numbers: only with `count=true`. Cursor pages: "
                                        "always (`page[before]` empty)."},
    },
    "required": ["self", "first"],
    "additionalProperties": False,
}

PAGINATION_META: Schema = {
    "type": "object",
    "properties": {
        "record_count": {"type": "integer", "minimum": 0,
                         "description": "Resources in the collection (only with `count=true`)."},
        "page_count": {"type": "integer", "minimum": 0,
                       "description": "Pages of `page[size]` (only with `count=true`)."},
    },
    "additionalProperties": True,
}


def request_document(type_name: str, attributes: Schema | None, *,
                     relationships: Schema | None = None, with_id: bool = False) -> Schema:
    """A request document: one resource object of ``type_name`` in ``data``. Only the members
    JSON:API defines (others: 400), and only the attributes and relationships the endpoint
    takes (others: 422, see ``syncservice.jsonapi.parsers``)."""
    properties: Schema = {"type": {"type": "string", "enum": [type_name]}}
    required = ["type"]
    if with_id:
        properties["id"] = {"type": "string", "format": "uuid",
                            "description": "Must be the id of the path."}
        required.append("id")
    if attributes is not None:
        if "properties" in attributes:
            attributes = {"additionalProperties": False, **attributes}
        properties["attributes"] = attributes
    relationships = relationships or {"type": "object", "properties": {}}
    properties["relationships"] = {**relationships, "additionalProperties": False}
    properties["meta"] = META
    properties["links"] = {"type": "object"}
    resource = {"type": "object", "properties": properties, "required": required,
                "additionalProperties": False}
    return {
        "type": "object",
        "properties": {"data": resource, "meta": META,
                       "jsonapi": {"type": "object",
                                   "description": "The JSON:API object (read, not checked)."},
                       "links": {"type": "object"}},
        "required": ["data"],
        "additionalProperties": False,
    }


def to_one_request_relationship(type_name: str) -> Schema:
    return {"type": "object",
            "properties": {"data": identifier([type_name], {"type": "string", "format": "uuid"})},
            "required": ["data"]}
