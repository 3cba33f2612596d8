"""drf-spectacular's AutoSchema, speaking JSON:API 1.1 as ``syncservice.jsonapi`` does.

- Parameters: the grammar of ``syncservice.jsonapi.query`` on every collection
  (``page[number]``, ``page[size]``, ``count``, ``sort``, each ``filter[...]`` of the view's
  FilterSet, ``included``/``include``, ``fields``, ``fields[type]``) and on single resources
  (``included``/``include``, ``fields``, ``fields[type]``), plus the view's extra parameters.
- Request bodies: a JSON:API document whose ``data.type`` is the write serializer's resource
  type, its attributes from that serializer.
- Responses: JSON:API documents (resource objects with attributes, relationships and links;
  ``included``; pagination links and meta) and JSON:API error documents for every error status
  the operation can answer, all as ``application/vnd.api+json``.
"""

from __future__ import annotations

import copy
import inspect
import re
from typing import Any

import uritemplate
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.drainage import warn
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, get_doc
from rest_framework import serializers
from rest_framework.relations import ManyRelatedField, RelatedField
from rest_framework_json_api.utils import (
    get_related_resource_type,
    get_resource_type_from_serializer,
)

from syncservice.jsonapi import MEDIA_TYPE
from syncservice.jsonapi.filters import MAX_IN_VALUES, IntegerFilter, choices_of
from syncservice.jsonapi.query import (
    included_serializers,
    readable_field_names,
    resource_types,
)
from syncservice.jsonapi.views import JsonApiViewSet

# Registers the extensions (authentication schemes, SchemaField) before any document is built.
from syncservice.openapi import documents, extensions  # noqa: F401
from syncservice.openapi.operations import OperationSpec, query_parameter, spec_for

# How deep the documented include paths go (deeper valid paths are accepted too).
INCLUDE_DEPTH = 3
STANDARD_ACTIONS = {"list", "retrieve", "create", "update", "partial_update", "destroy"}
_API_PREFIX = re.compile(r"^/api/v\d+")
# A string attribute: no NUL character (DRF's CharField refuses it).
_NO_NUL = r"^[^\x00]*$"
# A string a filter accepts: not blank, no NUL character (Django's form fields refuse it).
_NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
# One item of a comma list: no comma, not blank, no NUL.
_LIST_ITEM = r"^[^,\x00]*[^,\s\x00][^,\x00]*$"

SHARED_SCHEMAS = {
    "JsonApi": documents.JSONAPI_OBJECT,
    "ErrorObject": documents.ERROR_OBJECT,
    "ErrorDocument": documents.ERROR_DOCUMENT,
    "PaginationLinks": documents.PAGINATION_LINKS,
    "PaginationMeta": documents.PAGINATION_META,
}


def include_paths(serializer_class: Any, depth: int = INCLUDE_DEPTH, prefix: str = ""):
    for name, related in sorted(included_serializers(serializer_class).items()):
        path = f"{prefix}{name}"
        yield path
        if depth > 1:
            yield from include_paths(related, depth - 1, f"{path}.")


def _base_name(serializer_class: Any) -> str:
    name = serializer_class.__name__
    return name[: -len("Serializer")] if name.endswith("Serializer") else name


def _own_doc(klass: type) -> str:
    doc = klass.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if doc else ""


def _is_relationship(field: serializers.Field) -> bool:
    return isinstance(field, (RelatedField, ManyRelatedField)) and \
        not isinstance(field, serializers.HyperlinkedIdentityField)


class JsonApiAutoSchema(AutoSchema):
    # --- what the operation is -----------------------------------------------------------------
    @property
    def is_resource_view(self) -> bool:
        return isinstance(self.view, JsonApiViewSet)

    @property
    def action(self) -> str:
        return getattr(self.view, "action", None) or self.method.lower()

    @property
    def is_collection(self) -> bool:
        return self.is_resource_view and self.action in self.view.collection_actions

    @property
    def spec(self) -> OperationSpec:
        return spec_for(self.view.__class__, self.action) or OperationSpec()

    @property
    def has_body(self) -> bool:
        return (self.is_resource_view and self.method in ("POST", "PATCH", "PUT")
                and self.action not in self.view.bodyless_actions)

    def _action_url_path(self) -> str | None:
        handler = getattr(self.view, self.action, None)
        return getattr(handler, "url_path", None)

    def get_operation_id(self) -> str:
        if self.spec.operation_id:
            return self.spec.operation_id
        segments = [s for s in _API_PREFIX.sub("", self.path).strip("/").split("/") if s]
        url_path = self._action_url_path() if self.action not in STANDARD_ACTIONS else None
        if url_path and segments and segments[-1] == url_path:
            segments = segments[:-1]
        tokens = []
        for index, segment in enumerate(segments):
            if segment.startswith("{"):
                if index == len(segments) - 1:
                    continue  # the resource's own id
                segment = segment.strip("{}")
            tokens.append(segment.replace("-", "_"))
        return "_".join([*tokens, self.action])

    def get_tags(self) -> list[str]:
        if self.spec.tags:
            return list(self.spec.tags)
        if self.is_resource_view:
            return [get_resource_type_from_serializer(self.view.serializer_class)]
        return super().get_tags()

    def get_description(self) -> str:
        """The action's docstring, else the view's own (never a base class's: those
        document the code, not the API), and the operation's notes."""
        handler = getattr(self.view, self.action, None)
        description = get_doc(handler) if handler is not None else ""
        description = description or _own_doc(self.view.__class__)
        notes = self.spec.notes
        if self.is_collection:  # every collection takes cursor pages
            from syncservice.openapi.operations import CURSOR_PAGES

            notes = f"{notes}\n\n{CURSOR_PAGES}".strip()
        return f"{description}\n\n{notes}".strip() if notes else description

    # --- shared components ---------------------------------------------------------------------
    def register_schema(self, name: str, schema: dict, identity: Any = None) -> dict:
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA,
                                      schema=schema, object=identity or name)
        self.registry.register_on_missing(component)
        return component.ref

    def _register_shared(self) -> None:
        for name, schema in SHARED_SCHEMAS.items():
            self.register_schema(name, copy.deepcopy(schema))
        for status in documents.ERROR_STATUSES:
            self.registry.register_on_missing(ResolvedComponent(
                name=documents.error_response_name(status), type=ResolvedComponent.RESPONSE,
                object=f"error-{status}", schema=documents.error_response(status)))

    # --- parameters ----------------------------------------------------------------------------
    def _get_parameters(self) -> list[dict]:
        parameters: dict[tuple[str, str], dict] = {}
        for parameter in self._resolve_path_parameters(list(uritemplate.variables(self.path))):
            parameters[parameter["name"], "path"] = parameter
        if self.is_resource_view and self.spec.grammar:
            if self.is_collection:
                grammar = self._collection_parameters()
            elif self.action == "retrieve":
                grammar = self._document_parameters()
            else:
                grammar = []
            for parameter in grammar:
                parameters[parameter["name"], "query"] = parameter
        for parameter in self.spec.parameters:
            parameters[parameter["name"], parameter["in"]] = copy.deepcopy(parameter)
        if self.is_resource_view:
            for name in self.view.extra_query_params.get(self.action, ()):
                if (name, "query") not in parameters:
                    warn(f"query parameter {name!r} of {self.view.__class__.__name__}."
                         f"{self.action} is accepted but undocumented: describe it with "
                         f"@document_operations on the view. Defaulting to string.")
                    parameters[name, "query"] = query_parameter(name, {"type": "string"}, "")
        return list(parameters.values())

    def _resolve_path_parameters(self, variables):
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            parameter["schema"].pop("pattern", None)
            if parameter["name"] in ("id", "pk") or parameter["name"].endswith("_pk"):
                parameter["schema"] = {"type": "string", "format": "uuid"}
        return parameters

    def _document_parameters(self) -> list[dict]:
        serializer_class = self.view.get_serializer_class()
        primary = get_resource_type_from_serializer(serializer_class)
        types = resource_types(serializer_class)
        parameters = []
        paths = list(include_paths(serializer_class))
        if paths:
            items = {"type": "string", "enum": paths}
            parameters.append(query_parameter(
                "included", {"type": "array", "items": items, "minItems": 1},
                "Related resources to add to `included` (compound document): comma list of "
                "relationship paths, e.g. `a,b.c`. Paths deeper than documented are accepted "
                "too.", comma_list=True))
            parameters.append(query_parameter(
                "include", {"type": "array", "items": items, "minItems": 1},
                "The JSON:API spelling of `included`; with both, the paths of either.",
                comma_list=True))
        parameters.append(query_parameter(
            "fields", self._fields_schema(types[primary]),
            f"Sparse fieldset of the primary type ({primary}): the attributes and "
            "relationships to return.", comma_list=True))
        for type_name, type_serializer in sorted(types.items()):
            parameters.append(query_parameter(
                f"fields[{type_name}]", self._fields_schema(type_serializer),
                f"Sparse fieldset of {type_name}.", comma_list=True))
        return parameters

    @staticmethod
    def _fields_schema(serializer_class: Any) -> dict:
        # "" too: an empty value (or item) asks for nothing, `fields[type]=` for no fields.
        names = sorted(readable_field_names(serializer_class))
        return {"type": "array", "items": {"type": "string", "enum": [*names, ""]}}

    def _collection_parameters(self) -> list[dict]:
        # Each family's parameters, once (``page[size]`` is both page numbers' and cursors').
        published = {name: query_parameter(name, schema, description)
                     for family in reversed(self.view.get_pagination_families())
                     for name, schema, description in family.openapi_parameters()}
        order = [name for family in self.view.get_pagination_families()
                 for name, _, _ in family.openapi_parameters()]
        parameters = [published[name] for name in dict.fromkeys(order)]
        parameters += [
            query_parameter("count", {"type": "boolean", "default": False},
                            "`true` adds `meta.record_count`, `meta.page_count` and "
                            "`links.last` (one COUNT query)."),
        ]
        sortable = sorted(self.view.get_ordering_fields())
        if sortable:
            terms = [term for name in sortable for term in (name, f"-{name}")]
            parameters.append(query_parameter(
                "sort", {"type": "array", "items": {"type": "string", "enum": terms},
                         "minItems": 1},
                "Sort terms, `-` for descending; the id breaks ties. Default: "
                f"`{','.join(self.view.ordering)}`.", comma_list=True))
        parameters += self._filter_parameters()
        return parameters + self._document_parameters()

    def _filter_parameters(self) -> list[dict]:
        filterset_class = self.view.filterset_class
        if filterset_class is None:
            return []
        model = filterset_class._meta.model
        resolver = DjangoFilterExtension(None)
        parameters = []
        for name, filter_field in filterset_class.base_filters.items():
            for parameter in resolver.resolve_filter_field(self, model, filterset_class, name,
                                                           filter_field):
                choices = choices_of(filterset_class, filter_field)
                if isinstance(filter_field, IntegerFilter):
                    # The column's range, which the filter enforces (400 beyond it).
                    parameter["schema"] = {**parameter["schema"],
                                           "minimum": filter_field.extra["min_value"],
                                           "maximum": filter_field.extra["max_value"]}
                parameters.append(self._filter_parameter(name, parameter, choices))
        for attribute in getattr(filterset_class, "json_key_filters", ()):
            # filter[<attribute>][<key>]=<value>: OpenAPI's deepObject style spells exactly
            # that for an object parameter named filter[<attribute>].
            parameters.append({
                "in": "query", "name": f"filter[{attribute}]", "style": "deepObject",
                "explode": True,
                "schema": {"type": "object", "minProperties": 1,
                           "additionalProperties": {"type": "string",
                                                    "pattern": r"^[^\x00]*$"}},
                "description": (
                    f"Key containment on the JSON object `{attribute}`: "
                    f"`filter[{attribute}][<key>]=<value>` keeps the resources whose "
                    f"`{attribute}` has `<key>` equal to `<value>` (the string, or the JSON "
                    "number, `true`, `false` or `null` it spells); several keys must all "
                    f"match. `filter[{attribute}__has_key]=<key>` asks only for the key."),
            })
        return parameters

    @staticmethod
    def _filter_parameter(name: str, parameter: dict, choices: list[str] | None) -> dict:
        schema = parameter["schema"]
        if schema.get("type") == "array" or name.endswith("__in"):
            item = schema.get("items", schema) if schema.get("type") == "array" else schema
            item = {k: v for k, v in item.items() if k not in ("minLength", "maxLength")}
            if choices and "enum" not in item:
                item["enum"] = choices  # other values are a 400
            if item.get("type", "string") == "string" and "enum" not in item \
                    and "format" not in item:
                item["pattern"] = _LIST_ITEM
            schema = {"type": "array", "items": item, "minItems": 1,
                      "maxItems": MAX_IN_VALUES}
            parameter["style"], parameter["explode"] = "form", False
            description = f"Any of these values (comma list, at most {MAX_IN_VALUES})."
        else:
            schema = dict(schema)
            if schema.get("type", "string") == "string" and "enum" not in schema \
                    and "format" not in schema:
                schema["pattern"] = _NOT_BLANK
            lookup = name.rsplit("__", 1)[1] if "__" in name else "exact"
            description = {"gte": "At least this value.", "lte": "At most this value.",
                           "icontains": "Contains this text (case-insensitive).",
                           "has_key": "The JSON object has this key."}.get(
                lookup, "Equal to this value.")
            if schema.get("format") == "date-time":
                description += " ISO 8601 with an offset."
        parameter["schema"] = schema
        parameter["name"] = f"filter[{name}]"
        detail = (parameter.get("description") or "").replace(
            "Multiple values may be separated by commas.", "").strip()
        parameter["description"] = f"{detail}\n\n{description}" if detail else description
        parameter.pop("required", None)
        return parameter

    # --- request bodies ------------------------------------------------------------------------
    def _get_request_body(self, direction="request"):
        if self.spec.request_body is not None:
            return self.spec.request_body(self)
        if not self.has_body:
            return None
        serializer_class = self.view.get_serializer_class()
        type_name = get_resource_type_from_serializer(serializer_class)
        partial = self.method == "PATCH"
        attributes = self._attributes_schema(serializer_class, "request", partial=partial,
                                             required=self.spec.required_attributes)
        required = bool(attributes.get("required"))
        refine = getattr(serializer_class, "openapi_attributes", None)
        if refine is not None:  # e.g. one form per provider (syncs' connections)
            attributes = refine(self, attributes, partial=partial)
        body = documents.request_document(
            type_name, attributes, relationships=copy.deepcopy(self.spec.relationships),
            with_id=partial)
        if required:
            body["properties"]["data"]["required"].append("attributes")
        if self.spec.data_rules is not None:  # e.g. "a connection, one way or the other"
            body["properties"]["data"].update(copy.deepcopy(self.spec.data_rules))
        name = documents.pascal(self.get_operation_id()) + "Request"
        ref = self.register_schema(name, body)
        media: dict = {"schema": ref}
        if self.spec.example is not None:
            data = {"type": type_name, **copy.deepcopy(self.spec.example)}
            if partial:
                data = {"type": type_name, "id": "00000000-0000-4000-8000-000000000000",
                        **copy.deepcopy(self.spec.example)}
            media["example"] = {"data": data}
        # An action whose document may be left out (no body, or seed 001's `{}`) takes its
        # attributes' defaults.
        optional = self.action in getattr(self.view, "optional_document_actions", ())
        if optional:
            media["schema"] = {"anyOf": [ref, {
                "type": "object", "maxProperties": 0,
                "description": "`{}`: every attribute takes its default."}]}
        return {"content": {MEDIA_TYPE: media}, "required": not optional}

    def _attributes_schema(self, serializer_class: Any, direction: str, *,
                           partial: bool = False, required: tuple[str, ...] = ()) -> dict:
        serializer = serializer_class(context={"view": self.view,
                                               "request": getattr(self.view, "request", None)})
        properties = {}
        required_names = []
        for name, field in serializer.fields.items():
            if name in ("id", "url") or isinstance(field, serializers.HiddenField) \
                    or _is_relationship(field):
                continue
            if direction == "request" and field.read_only:
                continue
            if direction == "response" and field.write_only:
                continue
            schema = self._map_serializer_field(field, direction)
            if schema is None:
                continue
            if direction == "request":
                self._insert_field_validators(field, schema)
                if isinstance(field, serializers.CharField) and schema.get("type") == "string" \
                        and not {"pattern", "enum", "format"} & set(schema):
                    schema["pattern"] = _NO_NUL  # DRF's CharField refuses NUL characters
                if not partial and (field.required or name in required):
                    required_names.append(name)
            properties[name] = schema
        schema = {"type": "object", "properties": properties}
        if direction == "response":
            schema["additionalProperties"] = False
        if required_names:
            schema["required"] = required_names
        return schema

    # --- responses -----------------------------------------------------------------------------
    def _resource_ref(self, serializer_class: Any) -> dict:
        name = f"{_base_name(serializer_class)}Resource"
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA,
                                      object=serializer_class)
        if component in self.registry:
            return component.ref
        serializer = serializer_class()
        relationships = {}
        for field_name, field in serializer.fields.items():
            if not _is_relationship(field) or field.write_only:
                continue
            try:
                related = get_related_resource_type(field)
                type_names = [related] if isinstance(related, str) else None
            except Exception:  # noqa: BLE001 - unknown related type: any type
                type_names = None
            # (A to-many method relationship, e.g. ``events``, has a child like DRF's.)
            many = isinstance(field, ManyRelatedField) or \
                getattr(field, "child_relation", None) is not None
            relationships[field_name] = documents.relationship(type_names, many=many)
        attributes = self._attributes_schema(serializer_class, "response")
        relationships_schema = {"type": "object", "properties": relationships,
                                "additionalProperties": False} if relationships else None
        component.schema = documents.resource_object(
            get_resource_type_from_serializer(serializer_class), attributes,
            relationships_schema, description=_own_doc(serializer_class) or None)
        self.registry.register_on_missing(component)
        return component.ref

    def _document_ref(self, serializer_class: Any, *, collection: bool) -> dict:
        base = _base_name(serializer_class)
        name = f"{base}CollectionDocument" if collection else f"{base}Document"
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA,
                                      object=serializer_class)
        if component in self.registry:
            return component.ref
        included = [self._resource_ref(related)
                    for _, related in sorted(resource_types(serializer_class).items())
                    if included_serializers(serializer_class)]
        component.schema = documents.document(self._resource_ref(serializer_class), included,
                                              collection=collection, paginated=collection)
        self.registry.register_on_missing(component)
        return component.ref

    def _success_responses(self) -> dict[str, dict]:
        spec = self.spec
        if spec.responses is not None:
            return spec.responses(self)
        if not self.is_resource_view:
            warn(f"no response documented for {self.method} {self.path}: describe it with "
                 f"@document_operations on the view.")
            return {"200": {"description": "Undocumented."}}
        if self.action == "destroy" and spec.status is None:
            return {"204": {"description": "Deleted; no content."}}
        serializer_class = spec.response_serializer or self.view.serializer_class
        if self.is_collection:
            ref = self._document_ref(serializer_class, collection=True)
            status, description = 200, "A page of the collection."
        else:
            ref = self._document_ref(serializer_class, collection=False)
            status = spec.status or (201 if self.action == "create" else 200)
            description = {201: "Created.", 202: "Accepted: the work goes on in a job."}.get(
                status, "The resource.")
        response = {"description": description, "content": {MEDIA_TYPE: {"schema": ref}}}
        if status in (201, 202):
            response["headers"] = {"Location": {
                "description": "The URL of the created resource (its `links.self`).",
                "schema": {"type": "string", "format": "uri"}}}
        if spec.links is not None:
            response["links"] = spec.links()
        return {str(status): response}

    def _error_statuses(self) -> list[int]:
        """Every error status the operation can answer. On every path: 405 (another method),
        406 (negotiation), 413 (a declared body over the limit, even on a GET), 414 (the HTTP
        server's request line limit) and 429 (the rate limit covers every view)."""
        spec = self.spec
        statuses = {405, 406, 413, 414, 429, *spec.errors}
        if spec.grammar:
            statuses.add(400)
        if spec.authenticated:
            statuses.add(401)
            if self.method not in ("GET", "HEAD", "OPTIONS"):
                statuses.add(403)
        if uritemplate.variables(self.path) or spec.relationships is not None:
            statuses.add(404)  # no such resource, or a linked one does not exist
        if self.has_body:
            statuses |= {400, 409, 413, 415, 422}
        return sorted(statuses)

    def _get_response_bodies(self, direction="response") -> dict[str, dict]:
        self._register_shared()
        responses = self._success_responses()
        for status in self._error_statuses():
            responses[str(status)] = {
                "$ref": f"#/components/responses/{documents.error_response_name(status)}"}
        return responses
