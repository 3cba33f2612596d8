"""What the views do not tell by themselves: per view and action, the success status, the
response (when it is not a document of the view's ``serializer_class``), extra error statuses,
the query parameters outside the grammar, required attributes and request relationships.

Each view documents its own actions beside it, with the class decorator
:func:`document_operations` (as drf-spectacular's ``extend_schema_view`` does, without loading
drf-spectacular with the views); subclasses inherit their entries through the MRO. An action
without an entry gets the defaults (list: 200 collection; retrieve: 200; create: 201;
partial_update: 200; destroy: 204; other actions: 200 with the view's resource). This module
holds the pieces the apps' entries share, and the entries of syncservice's own views.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from syncservice.jsonapi import MEDIA_TYPE
from syncservice.openapi import documents

Schema = dict[str, Any]


@dataclass(frozen=True)
class OperationSpec:
    status: int | None = None
    # A serializer class whose resource is the primary data (default: view.serializer_class).
    response_serializer: Any = None
    # A callable(auto_schema) -> {status: response object} replacing the success response.
    responses: Callable[[Any], dict[str, Schema]] | None = None
    errors: tuple[int, ...] = ()
    # Whether the JSON:API query grammar applies (and so 400 can happen on any parameter).
    grammar: bool = True
    # Default error statuses (401 and friends) of an authenticated JSON:API endpoint.
    authenticated: bool = True
    parameters: tuple[Schema, ...] = ()
    required_attributes: tuple[str, ...] = ()
    relationships: Schema | None = None
    operation_id: str | None = None
    tags: tuple[str, ...] = ()
    # The attributes (and relationships) of an example request document.
    example: Schema | None = None
    # OpenAPI links of the success response (name -> link object): where its ids lead.
    links: Callable[[], dict[str, Schema]] | None = None
    # Keywords added to the request document's resource object (rules across members).
    data_rules: Schema | None = None
    # What the operation's description adds (rules the schema cannot express).
    notes: str = ""
    # A callable(auto_schema) -> request body object, for views whose body is not a resource
    # document of their serializer (the Atomic Operations extension).
    request_body: Callable[[Any], Schema] | None = None


def query_parameter(name: str, schema: Schema, description: str, *,
                    required: bool = False, comma_list: bool = False) -> Schema:
    parameter = {"in": "query", "name": name, "schema": schema, "description": description}
    if required:
        parameter["required"] = True
    if comma_list:
        parameter["style"] = "form"
        parameter["explode"] = False
    return parameter


def comma_items(items: Schema, **bounds: int) -> Schema:
    return {"type": "array", "items": items, "minItems": bounds.get("min_items", 1)}


def data_response(description: str, schema_name: str, schema: Callable[[], Schema]):
    def build(auto_schema) -> dict[str, Schema]:
        ref = auto_schema.register_schema(schema_name, schema())
        return {"200": {"description": description, "content": {MEDIA_TYPE: {"schema": ref}}}}

    return build


# --- links: what a created resource's id leads to (clients and stateful fuzzing follow them) --

def link(operation_id: str, description: str, pointer: str = "/data/id",
         parameter: str = "id", body: Schema | None = None) -> Schema:
    """An OpenAPI link to ``operation_id``, its ``parameter`` taken from the response at
    ``pointer``."""
    link_object: Schema = {"operationId": operation_id, "description": description,
                           "parameters": {parameter: f"$response.body#{pointer}"}}
    if body is not None:
        link_object["requestBody"] = body
    return link_object


def update_body(type_name: str) -> Schema:
    """A PATCH document names the id of its path."""
    return {"data": {"type": type_name, "id": "$response.body#/data/id"}}


# Two pagination families (syncservice.jsonapi.pagination): OpenAPI 3.0 cannot say that a
# parameter excludes another, so the operation says it.
PAGINATION_FAMILIES = (
    "`limit`/`offset` and `page[number]`/`page[size]` are two pagination families: "
    "parameters of both in one request are a 400 naming the later one (and so are either's "
    "together with a cursor's, `page[after]`/`page[before]`).")


# --- the schema endpoints --------------------------------------------------------------------

def _schema_responses(auto_schema) -> dict[str, Schema]:
    schema = {"schema": {"type": "object", "description": "An OpenAPI 3 document."}}
    return {"200": {"description": "This OpenAPI document, in YAML (default) or JSON.",
                    "content": {"application/vnd.oai.openapi": schema,
                                "application/yaml": schema,
                                "application/vnd.oai.openapi+json": schema,
                                "application/json": schema}}}


def _docs_responses(auto_schema) -> dict[str, Schema]:
    return {"200": {"description": "Swagger UI (its assets are served from /static/).",
                    "content": {"text/html": {"schema": {"type": "string"}}}}}


def _schema_parameters() -> tuple[Schema, ...]:
    return (query_parameter("format", {"type": "string", "enum": ["json", "yaml"]},
                            "The format of the document (else chosen by `Accept`)."),)


# --- the Atomic Operations extension -----------------------------------------------------------

def _atomic_operation() -> Schema:
    from syncservice.jsonapi.operation_types import MAX_OPERATIONS, registered_types

    types = sorted(registered_types())
    identifier = {
        "type": "object", "required": ["type"], "additionalProperties": False,
        "properties": {"type": {"type": "string", "enum": types},
                       "id": {"type": "string"},
                       "lid": {"type": "string", "minLength": 1,
                               "description": "The `lid` an earlier `add` of this request "
                                              "gave its resource."}},
        "description": "The target: `id`, or the `lid` of a resource added earlier in the "
                       "request."}
    data = {"type": "object", "required": ["type"],
            "properties": {"type": {"type": "string", "enum": types},
                           "id": {"type": "string"},
                           "lid": {"type": "string", "minLength": 1},
                           "attributes": {"type": "object"},
                           "relationships": {"type": "object"},
                           "meta": {"type": "object"}},
            "additionalProperties": False,
            "description": "The resource object the type's own endpoint takes: `POST /<type>` "
                           "for add (with an optional `lid` naming it in later operations), "
                           "`PATCH /<type>/{id}` for update. Relationships may link added "
                           "resources by `lid`."}

    def form(op: str, required: list[str], description: str) -> Schema:
        return {"type": "object", "required": ["op", *required], "additionalProperties": False,
                "properties": {"op": {"type": "string", "enum": [op]}, "ref": identifier,
                               "data": data, "meta": {"type": "object"}},
                "description": description}

    operation = {"oneOf": [
        form("add", ["data"], "add: `data`, the create document's resource object."),
        form("update", ["data"], "update: `data` with `id` (or `lid`), optionally the same "
                                 "`ref`."),
        form("remove", ["ref"], "remove: `ref`."),
    ]}
    return {
        "type": "object", "required": ["atomic:operations"], "additionalProperties": False,
        "properties": {
            "atomic:operations": {"type": "array", "minItems": 1, "maxItems": MAX_OPERATIONS,
                                  "items": operation},
            "jsonapi": documents.JSONAPI_OBJECT, "meta": {"type": "object"},
        },
    }


def _atomic_request(auto_schema) -> Schema:
    from syncservice.jsonapi.operation_types import ATOMIC_MEDIA_TYPE

    ref = auto_schema.register_schema("AtomicOperationsRequest", _atomic_operation())
    example = {"atomic:operations": [
        {"op": "add", "data": {"type": "connections", "lid": "shop", "attributes": {
            "provider": "http_api", "name": "shop",
            "config": {"base_url": "https://api.example.com/",
                       "streams": [{"name": "orders", "path": "/orders"}]}}}},
        {"op": "add", "data": {"type": "syncs", "attributes": {
            "name": "Orders", "entities": ["orders"]}, "relationships": {
            "connection": {"data": {"type": "connections", "lid": "shop"}}}}}]}
    return {"content": {ATOMIC_MEDIA_TYPE: {"schema": ref, "example": example}},
            "required": True}


def _atomic_responses(auto_schema) -> dict[str, Schema]:
    from syncservice.jsonapi.operation_types import ATOMIC_MEDIA_TYPE

    result = {"type": "object", "additionalProperties": False,
              "properties": {"data": {"type": "object",
                                      "description": "The resource as its own endpoint "
                                                     "answers it."},
                             "meta": {"type": "object"}},
              "description": "One per operation, in order; `{}` for a remove."}
    schema = {"type": "object", "required": ["atomic:results"], "additionalProperties": False,
              "properties": {"jsonapi": documents.JSONAPI_OBJECT,
                             "atomic:results": {"type": "array", "items": result}}}
    ref = auto_schema.register_schema("AtomicOperationsResponse", schema)
    return {"200": {"description": "Every operation succeeded, in one transaction.",
                    "content": {ATOMIC_MEDIA_TYPE: {"schema": ref}}}}


ATOMIC_RULES = (
    "Each operation's resource object is checked by its type's own endpoint, as a request "
    "there would be: its attributes are a 422 naming the member under "
    "`/atomic:operations/<n>/data`, its state rules a 409, a resource of another project a "
    "404. A `lid` must name a resource added earlier in the same request (else a 400).")

CURSOR_PAGES = (
    "Cursor pages: `page[after]` / `page[before]` take the cursors of this collection's "
    "links; a cursor made up, or made for another sort, is a 400 naming the parameter, and "
    "so is a cursor together with another pagination family's parameters (`page[number]`; "
    "`limit`/`offset` where the collection takes them), naming the later one.")

# The entries of syncservice's own views: the schema endpoints, the operations endpoint.
SCHEMA_OPERATION = OperationSpec(
    operation_id="openapi_schema", tags=("openapi",), grammar=False, authenticated=False,
    errors=(404,), responses=_schema_responses, parameters=_schema_parameters())
DOCS_OPERATION = OperationSpec(
    operation_id="openapi_docs", tags=("openapi",), grammar=False, authenticated=False,
    responses=_docs_responses)
ATOMIC_OPERATIONS = OperationSpec(
    operation_id="operations", tags=("operations",), grammar=False,
    errors=(400, 404, 409, 415, 422), notes=ATOMIC_RULES, request_body=_atomic_request,
    responses=_atomic_responses)


# --- the views' entries ----------------------------------------------------------------------

SpecOrBuilder = OperationSpec | Callable[[], OperationSpec]
_SPECS_ATTRIBUTE = "openapi_operations"


def document_operations(**actions: SpecOrBuilder) -> Callable[[type], type]:
    """Class decorator: what the view's ``actions`` (``list``, ``create``, an ``@action``'s
    name, or ``get``/``post`` of a plain view) do beyond what the view tells. An entry may be
    a callable returning the spec: it is called once, when the document is first built (for
    entries that read the provider catalog or the models)."""

    def decorate(view_class: type) -> type:
        own = dict(view_class.__dict__.get(_SPECS_ATTRIBUTE, {}))
        own.update(actions)
        setattr(view_class, _SPECS_ATTRIBUTE, own)
        return view_class

    return decorate


def spec_for(view_class: type, action: str) -> OperationSpec | None:
    for klass in view_class.__mro__:
        entries = klass.__dict__.get(_SPECS_ATTRIBUTE)
        if not entries or action not in entries:
            continue
        spec = entries[action]
        if not isinstance(spec, OperationSpec):
            spec = entries[action] = spec()
        return spec
    return None
