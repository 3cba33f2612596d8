"""JSON:API documents built from rows, the same documents DRF-JSONAPI builds from instances.

Per request and resource type, a *recipe* applies the sparse fieldset to the type's spec and
binds the per-request pieces (converters, links). The page's rows come from the view's own
filtered, sorted and paginated queryset as ``.values()``; the rows of included resources and
of to-many linkage from one query per relation walked (``rows``). Resource objects, the
``included`` walk (in DRF-JSONAPI's order, with its quirks: a to-one resource reached again is
not walked again, a to-many one is) and the ``included`` order (by type, then id) follow
DRF-JSONAPI's renderer, so the documents are the same bytes
(``tests/jsonapi/test_fast_path.py``, ``tests/jsonapi/test_read_path_property.py``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.settings import api_settings
from rest_framework_json_api.settings import json_api_settings
from rest_framework_json_api.utils import get_included_resources

from syncservice.jsonapi.read import rows as row_queries
from syncservice.jsonapi.read.links import Links
from syncservice.jsonapi.read.spec import (
    AS_IS,
    DATETIME,
    ResourceSpec,
    ToManySpec,
    ToOneSpec,
    spec_for,
)

Row = dict[str, Any]
IncludeStep = tuple[ToOneSpec | ToManySpec, "Recipe", tuple[str, ...]]
Node = tuple[str, ...]  # the relationship names walked from the primary data


def enabled() -> bool:
    """``settings.JSONAPI_FAST_PATH = False`` serves every read through DRF-JSONAPI."""
    return getattr(settings, "JSONAPI_FAST_PATH", True)


class ReadDocument:
    """What the read path's serializer stand-in returns as ``.data``: the ``data`` and
    ``included`` members; the renderer writes them with the pagination links and meta."""

    __slots__ = ("members",)

    def __init__(self, members: dict) -> None:
        self.members = members


def _current_zone_is_utc() -> bool:
    """Whether DRF writes an aware UTC datetime as is (orjson then writes the same text)."""
    if not settings.USE_TZ:
        return False
    current = timezone.get_current_timezone()
    return current is dt.UTC or getattr(current, "key", None) in ("UTC", "Etc/UTC")


class Recipe:
    """One resource type in one request: its spec under the request's sparse fieldset."""

    def __init__(self, reader: Reader, spec: ResourceSpec, type_name: str) -> None:
        self.spec = spec
        self.type = type_name
        fields = reader.sparse_fields(type_name)
        self.pk = spec.model._meta.pk.attname
        self.columns = row_queries.columns_for(spec, fields)
        self.relationships = [r for r in spec.relationships
                              if fields is None or r.name in fields]
        self.self_view = spec.self_view
        # (name, column, converter or None when the value is written as is)
        self.attributes: list[tuple[str, str, Callable[[Any], Any] | None]] = []
        bound = None
        for attribute in spec.attributes:
            if fields is not None and attribute.name not in fields:
                continue
            convert = None
            if attribute.kind != AS_IS:
                if bound is None:  # the request's serializer, only when a field needs it
                    bound = spec.serializer_class(context=reader.context).fields
                to_representation = bound[attribute.name].to_representation
                convert = _datetime_converter(to_representation, reader.utc) \
                    if attribute.kind == DATETIME else to_representation
            self.attributes.append((attribute.name, attribute.column, convert))
        # DRF-JSONAPI leaves out an included to-one resource whose serialized data is empty,
        # which happens only when no field at all survives the sparse fieldset.
        self.fixed_fields = len(self.relationships) + (self.self_view is not None)


def _datetime_converter(to_representation: Callable[[Any], Any], utc: bool):
    if not utc:
        return to_representation
    datetime_class, zone = dt.datetime, dt.UTC

    def convert(value: Any) -> Any:
        if value.__class__ is datetime_class and value.tzinfo is zone:
            return value  # orjson writes DRF's ISO text, "Z" included
        return to_representation(value)

    return convert


class Reader:
    """Builds one request's document from rows."""

    def __init__(self, view, spec: ResourceSpec, type_name: str) -> None:
        self.view = view
        self.request = view.request
        self.context = view.get_serializer_context()
        self.query_params = self.request.query_params
        self.utc = _current_zone_is_utc()
        self.links = Links(self.request)
        self.include = tuple(get_included_resources(self.request))
        self.recipes: dict[tuple[int, str], Recipe] = {}
        self.primary = self.recipe(spec, type_name)
        self._steps: dict[tuple[int, tuple[str, ...]], list[IncludeStep]] = {}
        # Per include node (the relationship names walked from the primary data):
        self.targets: dict[tuple[str, ...], dict[Any, Row]] = {}        # to-one rows by pk
        self.children: dict[tuple[str, ...], dict[Any, list[Row]]] = {}  # to-many by parent
        self._known_children: dict[tuple, tuple[set[str], dict[Any, list[Row]]]] = {}
        self.included: dict[str, dict[str, dict]] = defaultdict(dict)

    def sparse_fields(self, type_name: str) -> set[str] | None:
        value = self.query_params.get(f"fields[{type_name}]")
        return None if value is None else set(value.split(","))

    def recipe(self, spec: ResourceSpec, type_name: str | None = None) -> Recipe:
        type_name = type_name or spec.type
        key = (id(spec), type_name)
        recipe = self.recipes.get(key)
        if recipe is None:
            recipe = self.recipes[key] = Recipe(self, spec, type_name)
        return recipe

    # --- the page ---
    def page_queryset(self, queryset: QuerySet) -> QuerySet | None:
        """The view's queryset as the rows the page needs (with the to-one included
        resources joined), or None when its ordering is not made of model fields (the rows
        could not carry the cursor keys)."""
        sort = row_queries.sort_columns(queryset)
        if sort is None:
            return None
        recipe = self.primary
        joined = self.joined_columns(recipe, self.include, ())
        return row_queries.page_queryset(queryset, [*recipe.columns, *joined, *sort])

    # --- fetching: one query per to-many relation walked, to-one relations joined ---
    def include_steps(self, recipe: Recipe, included: tuple[str, ...]) -> list[IncludeStep]:
        """(relationship, included recipe, nested include paths) in the order DRF-JSONAPI's
        ``extract_included`` visits them."""
        key = (id(recipe), included)
        steps = self._steps.get(key)
        if steps is None:
            steps = []
            remaining = list(included)
            spec = recipe.spec
            for relationship in spec.relationships:
                name = relationship.name
                try:
                    remaining.remove(name)
                except ValueError:
                    if name not in [path.split(".")[0] for path in remaining]:
                        continue
                nested = tuple(path.replace(f"{name}.", "", 1) for path in remaining
                               if name == path.split(".")[0])
                steps.append((relationship, self.recipe(spec_for(spec.included[name])),
                              nested))
            self._steps[key] = steps
        return steps

    def joins(self, recipe: Recipe, included: tuple[str, ...], node: Node,
              prefix: str = "") -> list[tuple[Node, Recipe, list[tuple[str, str]]]]:
        """The to-one include chains below ``node``, read by joins in the query of its rows:
        (their node, recipe, (row key, column) pairs)."""
        chains = []
        for relationship, child, nested in self.include_steps(recipe, included):
            if not isinstance(relationship, ToOneSpec):
                continue
            lookup = f"{prefix}{relationship.field_name}__"
            child_node = (*node, relationship.name)
            chains.append((child_node, child, [(lookup + column, column)
                                               for column in child.columns]))
            chains += self.joins(child, nested, child_node, lookup)
        return chains

    def joined_columns(self, recipe: Recipe, included: tuple[str, ...], node: Node) -> list:
        return [key for _, _, pairs in self.joins(recipe, included, node) for key, _ in pairs]

    def take_joined(self, recipe: Recipe, rows: list[Row], included: tuple[str, ...],
                    node: Node) -> None:
        for child_node, child, pairs in self.joins(recipe, included, node):
            self.targets[child_node] = row_queries.split_joined(rows, pairs, child.pk)

    def children_of(self, relationship: ToManySpec, keys: list, columns: list[str]) -> dict:
        """The to-many rows of ``keys``, from the rows already read for the same relation
        when they cover them (an included resource that is also primary data), else one
        query."""
        cache_key = (relationship.model, relationship.back_column)
        known = self._known_children.get(cache_key)
        wanted = set(columns)
        if known is not None and wanted <= known[0] and all(key in known[1] for key in keys):
            return known[1]
        grouped = row_queries.rows_by_parent(relationship, keys, columns)
        if known is not None and wanted <= known[0]:
            known[1].update(grouped)
        else:
            self._known_children[cache_key] = (wanted, dict(grouped))
        return grouped

    def fetch(self, node: Node, recipe: Recipe, rows: list[Row],
              included: tuple[str, ...]) -> None:
        steps = self.include_steps(recipe, included)
        by_name = {relationship.name: (child, nested) for relationship, child, nested in steps}
        keys = list(dict.fromkeys(row[recipe.pk] for row in rows))
        for relationship in recipe.spec.relationships:
            if not isinstance(relationship, ToManySpec):
                continue
            step = by_name.get(relationship.name)
            if step is None and relationship not in recipe.relationships:
                continue
            child_node = (*node, relationship.name)
            if step is None:
                columns = [relationship.model._meta.pk.attname]
            else:
                child, nested = step
                columns = [*child.columns, *self.joined_columns(child, nested, child_node)]
            grouped = self.children_of(relationship, keys, columns)
            self.children[child_node] = grouped
            if step is not None:
                self.take_joined(child, [row for key in keys for row in grouped.get(key, ())],
                                 nested, child_node)
        for relationship, child, nested in steps:
            child_node = (*node, relationship.name)
            if isinstance(relationship, ToOneSpec):
                by_pk = self.targets.get(child_node)
                if by_pk is None:  # not joined (a show's row comes from its instance)
                    by_pk = self.targets[child_node] = row_queries.rows_by_pk(
                        relationship, (row[relationship.column] for row in rows),
                        child.columns)
                child_rows = list(by_pk.values())
            else:
                grouped = self.children[child_node]
                child_rows = [row for key in keys for row in grouped.get(key, ())]
            self.fetch(child_node, child, child_rows, nested)

    # --- one resource object ---
    def resource(self, recipe: Recipe, row: Row, node: tuple[str, ...]):
        """(resource object, what each relationship links to, whether DRF-JSONAPI's
        serialized data would be non-empty)."""
        attributes = {}
        for name, column, convert in recipe.attributes:
            value = row[column]
            if convert is not None and value is not None:
                value = convert(value)
            attributes[name] = value
        pk = row[recipe.pk]
        id_ = None if pk is None else str(pk)
        obj: dict[str, Any] = {"type": recipe.type, "id": id_}
        if attributes:
            obj["attributes"] = attributes
        related: dict[str, Any] = {}
        if recipe.relationships:
            relationships = {}
            for relationship in recipe.relationships:
                name = relationship.name
                if isinstance(relationship, ToOneSpec):
                    key = row[relationship.column]
                    if key is None:
                        related[name] = None
                        relationships[name] = {"data": None}
                        continue
                    linkage = {"type": relationship.type, "id": str(key)}
                    related[name] = linkage
                    if relationship.related_view is None:
                        relationships[name] = {"data": linkage}
                    else:
                        relationships[name] = {"links": {"related": self.links.url(
                            relationship.related_view, "pk", key)}, "data": linkage}
                    continue
                items = self.children[(*node, name)].get(pk, [])
                child_pk = relationship.model._meta.pk.attname
                type_name = relationship.type
                related[name] = items
                relationships[name] = {"meta": {"count": len(items)}, "data": [
                    {"type": type_name, "id": str(item[child_pk])} for item in items]}
            obj["relationships"] = relationships
        if recipe.self_view is not None and pk is not None:
            obj["links"] = {"self": self.links.url(*recipe.self_view, pk)}
        return obj, related, bool(attributes) or recipe.fixed_fields > 0

    # --- included, walked as DRF-JSONAPI's renderer walks it (``extract_included``) ---
    def extract_included(self, recipe: Recipe, row: Row, related: dict,
                         included: tuple[str, ...], node: tuple[str, ...]) -> None:
        if not included:
            return
        cache = self.included
        for relationship, child, nested in self.include_steps(recipe, included):
            name = relationship.name
            child_node = (*node, name)
            if isinstance(relationship, ToManySpec):
                # Included whatever the sparse fieldset (as DRF-JSONAPI does).
                items = related[name] if name in related else \
                    self.children[child_node].get(row[recipe.pk], [])
                for item in items:
                    obj, item_related, _ = self.resource(child, item, child_node)
                    cache[obj["type"]][obj["id"]] = obj
                    self.extract_included(child, item, item_related, nested, child_node)
                continue
            linkage = related.get(name)
            if not linkage:
                continue
            by_id = cache.get(linkage["type"])
            if by_id is not None and linkage["id"] in by_id:
                continue  # already included: DRF-JSONAPI does not walk it again either
            target = self.targets[child_node].get(row[relationship.column])
            if target is None:
                continue
            obj, target_related, has_data = self.resource(child, target, child_node)
            if not has_data:
                continue
            cache[obj["type"]][obj["id"]] = obj
            self.extract_included(child, target, target_related, nested, child_node)

    # --- the document ---
    def build(self, rows_or_instance: Any, many: bool) -> dict:
        recipe = self.primary
        sources = list(rows_or_instance) if many else [rows_or_instance]
        include = self.include
        if all(isinstance(source, dict) for source in sources):  # from page_queryset
            rows = sources
            self.take_joined(recipe, rows, include, ())
        else:
            rows = [row_queries.row_of(source, recipe.columns) for source in sources]
        self.fetch((), recipe, rows, include)
        objects = []
        for row in rows:
            obj, related, _ = self.resource(recipe, row, ())
            objects.append(obj)
            if include:
                self.extract_included(recipe, row, related, include, ())
        document: dict[str, Any] = {"data": objects if many else objects[0]}
        cache = self.included
        for obj in objects:  # the primary data is never repeated in `included`
            by_id = cache.get(obj["type"])
            if by_id is not None:
                by_id.pop(obj["id"], None)
                if not by_id:
                    del cache[obj["type"]]
        if include:
            document["included"] = [cache[type_name][id_] for type_name in sorted(cache)
                                    for id_ in sorted(cache[type_name])]
        return document


class ReadSerializer:
    """Stands in for ``get_serializer(page, many=True)`` / ``get_serializer(instance)`` in
    DRF's list and retrieve: ``.data`` builds the document inside the view, as DRF's
    ``serializer.data`` would, so errors go through the view's exception handling."""

    def __init__(self, reader: Reader, source: Any, many: bool = False) -> None:
        self.reader = reader
        self.source = source
        self.many = many
        self._data: ReadDocument | None = None

    @property
    def data(self) -> ReadDocument:
        if self._data is None:
            self._data = ReadDocument(self.reader.build(self.source, self.many))
        return self._data


def _types_reached(spec: ResourceSpec, type_name: str,
                   includes: Iterable[str]) -> list[tuple[ResourceSpec, str]] | None:
    """Every (spec, type) the document renders, or None when an include path walks a
    relationship the specs cannot read."""
    reached = [(spec, type_name)]
    for path in includes:
        current = spec
        for segment in path.split("."):
            target = current.included.get(segment)
            if target is None or current.relationship(segment) is None:
                return None
            current = spec_for(target)
            if current is None:
                return None
            reached.append((current, current.type))
    return reached


def reader_for(view, serializer_class: type) -> Reader | None:
    """A reader for this list/show request, or None when something it renders is not
    readable from rows (the request then takes the other path)."""
    if not enabled() or json_api_settings.FORMAT_FIELD_NAMES:
        return None
    spec = spec_for(serializer_class)
    if spec is None:
        return None
    resource_name = getattr(view, "resource_name", None)
    if resource_name is None:
        resource_name = spec.type
    elif resource_name is False or resource_name != spec.type:
        return None
    request = view.request
    if api_settings.URL_FORMAT_OVERRIDE and api_settings.URL_FORMAT_OVERRIDE in request.GET:
        return None  # DRF would carry it into every link
    if view.get_serializer_context().get("format"):
        return None
    reached = _types_reached(spec, resource_name, get_included_resources(request))
    if reached is None:
        return None
    params = request.query_params
    for reached_spec, type_name in reached:
        raw = params.get(f"fields[{type_name}]")
        fields = None if raw is None else set(raw.split(","))
        if any(fields is None or name in fields for name in reached_spec.unsupported):
            return None
    return Reader(view, spec, resource_name)


def compose(data: Any) -> dict | None:
    """The JSON:API document (without ``jsonapi``) for response data holding a
    ``ReadDocument``, ordered as DRF-JSONAPI's renderer orders it; None for other data."""
    if isinstance(data, ReadDocument):
        return data.members
    if isinstance(data, dict) and isinstance(data.get("results"), ReadDocument):
        document = {}
        if data.get("links"):
            document["links"] = data["links"]
        document.update(data["results"].members)
        if data.get("meta"):
            document["meta"] = data["meta"]
        return document
    return None
