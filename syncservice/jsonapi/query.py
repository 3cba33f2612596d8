"""Parsing and validation of the JSON:API query string, once per request.

The grammar (``../shared/reference/sync-api-exports-jobs.txt`` and the design card):
``page[number]``, ``page[size]`` (or a view's other pagination families: ``limit``/
``offset``, the cursors ``page[after]``/``page[before]``), ``count``, ``sort``, ``filter[...]``
(validated by the filter backend), ``include``/``included``, ``fields``/``fields[type]``.
Anything else is a 400 naming the parameter, unless the view lists it in ``extra_query_params``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rest_framework_json_api.utils import get_resource_type_from_serializer

from syncservice.jsonapi.errors import ParameterError
from syncservice.jsonapi.pagination import (  # noqa: F401 - re-exported
    DEFAULT_PAGE_SIZE,
    MAX_CURSOR_LENGTH,
    MAX_PAGE_NUMBER,
    MAX_PAGE_SIZE,
    PageNumberFamily,
    PageRequest,
    parse_page,
)

_FIELDS_TYPE = re.compile(r"^fields\[(?P<type>[A-Za-z0-9_\-]+)\]$")
_FILTER = re.compile(r"^filter\[(?P<name>[A-Za-z0-9_\.\-]+)\]$")
# filter[<json attribute>][<key>]: a JSON attribute filtered by one of its keys.
# (The key is anything between the brackets, brackets and "" included: OpenAPI's deepObject
# style writes any property name so.)
_FILTER_KEY = re.compile(r"^filter\[(?P<name>[A-Za-z0-9_]+)\]\[(?P<key>.*)\]$", re.S)

# Which parameters each kind of request accepts.
# (Pagination parameters come from the view's pagination families.)
LIST_PARAMS = frozenset({"count", "sort", "include", "included", "fields"})
DETAIL_PARAMS = frozenset({"include", "included", "fields"})


@dataclass
class JsonApiQuery:
    # The window asked for, in the pagination family the client used (see pagination.py).
    page: PageRequest = field(
        default_factory=lambda: PageRequest(PageNumberFamily(), 0, DEFAULT_PAGE_SIZE))
    count: bool = False
    sort: list[str] = field(default_factory=list)        # API names, "-" for descending
    include: list[str] = field(default_factory=list)     # dotted relationship paths
    fields: dict[str, list[str]] = field(default_factory=dict)  # type -> field names
    filters: dict[str, str] = field(default_factory=dict)       # name -> raw value
    # name -> the query parameter that gave it, where not `filter[name]` (a compatibility
    # parameter such as 001's `provider`): errors name what the client sent.
    filter_parameters: dict[str, str] = field(default_factory=dict)
    # type -> relationships left out of the client's sparse fieldset but on an include path:
    # serialized (so their resources are included, which JSON:API 1.1's full-linkage
    # exception allows) and trimmed from the resource objects by the renderer.
    hidden_relationships: dict[str, set[str]] = field(default_factory=dict)


def _single(params, name: str) -> str:
    values = params.getlist(name)
    if len(values) > 1:
        raise ParameterError(name, f"`{name}` may be given only once.")
    return values[0]


def _comma_list(params, name: str) -> list[str]:
    raw = _single(params, name)
    items = [item.strip() for item in raw.split(",")]
    if any(not item for item in items):
        raise ParameterError(name, f"`{name}` is a comma-separated list without empty items.")
    return items


def included_serializers(serializer_class: Any) -> Mapping[str, Any]:
    return getattr(serializer_class, "included_serializers", None) or {}


def readable_field_names(serializer_class: Any) -> set[str]:
    """The names a sparse fieldset may list: attributes and relationships (not id/url)."""
    serializer = serializer_class()
    return {name for name, f in serializer.fields.items()
            if not f.write_only and name not in ("id", "url")}


def resource_types(serializer_class: Any, seen: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every resource type reachable from a serializer through its includes."""
    seen = {} if seen is None else seen
    type_name = get_resource_type_from_serializer(serializer_class)
    if type_name in seen:
        return seen
    seen[type_name] = serializer_class
    for related in included_serializers(serializer_class).values():
        resource_types(related, seen)
    return seen


def validate_include(serializer_class: Any, paths: Iterable[str], parameter: str) -> None:
    """Each dotted relationship path of ``paths`` must exist from ``serializer_class``: else a
    400 naming ``parameter`` and the relationships allowed where the path went wrong."""
    for path in paths:
        current = serializer_class
        for segment in path.split("."):
            related = included_serializers(current).get(segment)
            if related is None:
                allowed = ", ".join(sorted(included_serializers(current))) or "none"
                raise ParameterError(
                    parameter,
                    f"Unknown relationship path {path!r} in `{parameter}`; "
                    f"allowed at this level: {allowed}.",
                )
            current = related


def parse_query(request, view, *, collection: bool) -> JsonApiQuery:
    """Validate every query parameter of ``request`` for ``view`` and return the parsed query.

    Raises ``ParameterError`` (400 with ``source.parameter``) on the first problem.
    """
    params = request.query_params
    allowed = set(LIST_PARAMS if collection else DETAIL_PARAMS)
    families = view.get_pagination_families() if collection else ()
    for family in families:
        allowed |= set(family.parameters)
    allowed |= set(view.get_extra_query_params())
    filters: dict[str, str] = {}
    for name in params.keys():
        if name in allowed or _FIELDS_TYPE.match(name):
            continue
        match = _FILTER.match(name)
        if collection and match:
            filters[match["name"]] = _single(params, name)
            continue
        match = _FILTER_KEY.match(name)
        if collection and match:
            filters[f"{match['name']}[{match['key']}]"] = _single(params, name)
            continue
        if name.startswith("filter") and collection:
            raise ParameterError(name, f"Malformed filter parameter {name!r}; "
                                       "use filter[<name>]=<value>.")
        raise ParameterError(name, f"Unknown query parameter {name!r}.")

    query = JsonApiQuery(filters=filters)
    if collection:
        query.page = parse_page(params, families)
        if "count" in params:
            raw = _single(params, "count").strip().lower()
            if raw not in ("true", "false"):
                raise ParameterError("count", f"`count` must be true or false, not {raw!r}.")
            query.count = raw == "true"
        if "sort" in params:
            query.sort = _comma_list(params, "sort")
            allowed_sort = set(view.get_ordering_fields())
            for term in query.sort:
                name = term[1:] if term.startswith("-") else term
                if name not in allowed_sort:
                    raise ParameterError(
                        "sort", f"Cannot sort by {name!r}; sortable fields: "
                                f"{', '.join(sorted(allowed_sort))}.")

    serializer_class = view.get_serializer_class()
    # `included` (the reference's name) and `include` (the spec's) may both be given: the
    # document includes the paths of either.
    for parameter in ("included", "include"):
        if parameter in params:
            paths = _comma_list(params, parameter)
            validate_include(serializer_class, paths, parameter)
            query.include += [path for path in paths if path not in query.include]

    types = resource_types(serializer_class)
    primary_type = get_resource_type_from_serializer(serializer_class)
    for name in params.keys():
        match = _FIELDS_TYPE.match(name)
        if name == "fields":
            type_name = primary_type
        elif match:
            type_name = match["type"]
            if type_name not in types:
                raise ParameterError(name, f"Unknown resource type {type_name!r} in {name}; "
                                           f"known here: {', '.join(sorted(types))}.")
        else:
            continue
        raw = _single(params, name).strip()
        # Empty items are nothing asked for: `fields[type]=` asks for no fields at all.
        names = [item.strip() for item in raw.split(",") if item.strip()]
        known = readable_field_names(types[type_name])
        for item in names:
            if item not in known:
                raise ParameterError(name, f"Unknown field {item!r} of {type_name}; "
                                           f"fields: {', '.join(sorted(known))}.")
        # `fields` and `fields[<primary type>]` may both be given: the fields of either.
        merged = query.fields.setdefault(type_name, [])
        merged += [item for item in names if item not in merged]
    _hide_included_relationships(query, serializer_class)
    return query


def _hide_included_relationships(query: JsonApiQuery, serializer_class: Any) -> None:
    """Each relationship an include path walks but a sparse fieldset leaves out: JSON:API 1.1
    still includes the resources ("full linkage" has an exception for exactly this), so the
    relationship is serialized and hidden from the resource objects afterwards."""
    for path in query.include:
        current = serializer_class
        for segment in path.split("."):
            type_name = get_resource_type_from_serializer(current)
            fieldset = query.fields.get(type_name)
            if fieldset is not None and segment not in fieldset:
                query.hidden_relationships.setdefault(type_name, set()).add(segment)
            current = included_serializers(current)[segment]


def normalized_query_params(params, query: JsonApiQuery):
    """The query string in the spec's own form (``include``, ``fields[type]``), which
    DRF-JSONAPI's serializers and renderer read."""
    normalized = params.copy()
    for name in ("included", "include", "fields"):
        normalized.pop(name, None)
    for name in list(normalized.keys()):
        if _FIELDS_TYPE.match(name):
            normalized.pop(name)
    if query.include:
        normalized["include"] = ",".join(query.include)
    for type_name, names in query.fields.items():
        hidden = sorted(query.hidden_relationships.get(type_name, ()))
        normalized[f"fields[{type_name}]"] = ",".join([*names, *hidden])
    normalized._mutable = False
    return normalized
