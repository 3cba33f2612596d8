"""JSON:API documents built by the read specs, the same documents DRF-JSONAPI builds.

Per request and resource type, a *recipe* applies the sparse fieldset to the type's spec and
binds the per-request pieces (converters, the request's serializer for method fields, links).
A document is built from one of two sources, chosen per request (``reader_for``):

- **rows**, when every field it renders is readable from columns, or computed from them by an
  app's row hook (``hooks``: a method field, a to-many method relationship): the page comes
  from the view's own filtered, sorted and paginated queryset as ``.values()`` (to-one
  included resources joined into it, but for the tenancy FK's, read by id), to-many linkage
  and included resources from one query per relation walked (``rows``; a hooked relationship:
  its hook's queries);
- **instances**, when a rendered field is computed per instance and has no row hook (a method
  field, a dotted source, a method relationship): the view's instances as the stock path reads
  them (its ``select_related``, prefetches and attached events), method fields through DRF's
  field API (hooked fields through their hooks, from the instances' rows).

Resource objects, the ``included`` walk (in DRF-JSONAPI's order, with its quirks: a to-one
resource reached again is not walked again, a to-many one is) and the ``included`` order (by
type, then id) follow DRF-JSONAPI's renderer, so the documents are the same bytes
(``tests/jsonapi/test_fast_path.py``, ``tests/jsonapi/test_read_path_property.py``). A list's
resource objects are handed to the renderer as the JSON text orjson writes for each once it is
built (``encoded``), rather than as dicts kept alive until the end.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any
from uuid import UUID

import orjson
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.fields import SkipField
from rest_framework_json_api.utils import (
    get_included_resources,
    get_resource_type_from_instance,
)

from syncservice.jsonapi.read import compiled
from syncservice.jsonapi.read import rows as row_queries
from syncservice.jsonapi.read import text as text_reads
from syncservice.jsonapi.read.links import Links, TemplatedReverse
from syncservice.jsonapi.read.spec import (
    AS_IS,
    DATETIME,
    HOOK,
    INSTANCE,
    MethodRelationshipSpec,
    Relationship,
    ResourceSpec,
    ToManySpec,
    ToOneSpec,
    spec_for,
)

Row = dict[str, Any]
IncludeStep = tuple[Relationship, "Recipe", tuple[str, ...]]
Node = tuple[str, ...]  # the relationship names walked from the primary data


def encoded(obj: dict) -> Any:
    """``obj`` as the JSON text the renderer writes for it (``renderers.dumps``: orjson, UTC
    datetimes with "Z"), which orjson then copies; ``obj`` itself when it needs the
    renderer's fallbacks (a type orjson does not know, an integer beyond 64 bits)."""
    try:
        return orjson.Fragment(orjson.dumps(obj, option=orjson.OPT_UTC_Z))
    except TypeError:  # (orjson.JSONEncodeError is one)
        return obj


def _current_zone_is_utc() -> bool:
    """Whether DRF writes an aware UTC datetime as is (orjson then writes the same text)."""
    if not settings.USE_TZ:
        return False
    current = timezone.get_current_timezone()
    return current is dt.UTC or getattr(current, "key", None) in ("UTC", "Etc/UTC")


class Recipe:
    """One resource type in one request: its spec under the request's sparse fieldset."""

    def __init__(self, reader: Reader, spec: ResourceSpec, type_name: str) -> None:
        self.reader = reader
        self.spec = spec
        self.type = type_name
        fields = reader.sparse_fields(type_name)
        self.pk = spec.model._meta.pk.attname
        self.columns = row_queries.columns_for(spec, fields)
        self.relationships = [r for r in spec.relationships
                              if fields is None or r.name in fields]
        self.self_view = spec.self_view
        self._serializer = None
        # The attributes in the serializer's order: first every column value at once (a
        # placeholder for an attribute read from the instance), then in place the values a
        # converter changes and the instance's attributes (DRF's own reading; left out on
        # SkipField).
        self.attribute_names: list[str] = []
        # (name, how: column / converted / hook / instance, column, converter or hook), in
        # the serializer's order: what the compiled builder reads (``compiled``).
        self.attribute_reads: list[tuple[str, str, str | None, Any]] = []
        columns: list[str] = []
        self.converted: list[tuple[str, str, Callable[[Any], Any]]] = []
        self.from_instance: list[tuple[str, Any]] = []
        self.from_hook: list[tuple[str, Callable[[Links, Row], Any]]] = []
        # The columns read as text (``text``), by column: None for a column also read
        # otherwise (a hook, a second attribute), which Django's converters read.
        decoders: dict[str, text_reads.TextRead | None] = {}
        for attribute in spec.attributes:
            if fields is not None and attribute.name not in fields:
                continue
            self.attribute_names.append(attribute.name)
            if attribute.kind == HOOK:
                columns.append(self.pk)
                self.from_hook.append((attribute.name, attribute.hook.value))
                self.attribute_reads.append((attribute.name, "hook", None,
                                             attribute.hook.value))
                decoders.update(dict.fromkeys(attribute.hook.columns))
                continue
            if attribute.kind == INSTANCE:
                columns.append(self.pk)
                self.from_instance.append((attribute.name, self.fields[attribute.name]))
                self.attribute_reads.append((attribute.name, "instance", None, None))
                continue
            columns.append(attribute.column)
            model_field = spec.model._meta.get_field(attribute.column)
            decode = text_reads.decoder(model_field, attribute.kind == DATETIME and reader.utc)
            decoders[attribute.column] = decode if decoders.get(
                attribute.column, decode) is decode else None
            if attribute.kind != AS_IS:
                field = attribute.serializer_field if attribute.serializer_field is not None \
                    else self.fields[attribute.name]
                to_representation = field.to_representation
                if text_reads.uuid_read(model_field) is not None:  # read as its text
                    to_representation = _from_uuid_text(to_representation)
                self.converted.append((attribute.name, attribute.column, _datetime_converter(
                    to_representation, reader.utc) if attribute.kind == DATETIME
                    else to_representation))
                self.attribute_reads.append((attribute.name, "converted", attribute.column,
                                             self.converted[-1][2]))
            else:
                self.attribute_reads.append((attribute.name, "column", attribute.column, None))
        for column in (self.pk, *(r.column for r in spec.relationships
                                  if isinstance(r, ToOneSpec))):
            decoders[column] = None
        # Every UUID column as its text, whoever reads it: keys (ids, linkage, to-many
        # grouping, the hooks' rows) agree across the document's queries.
        decoders.update(text_reads.uuid_reads(spec.model, self.columns))
        self.text: dict[str, text_reads.TextRead] = {
            column: decode for column, decode in decoders.items() if decode is not None}
        # itemgetter returns a tuple from two keys on.
        self.attribute_values = itemgetter(*columns) if len(columns) > 1 else \
            (lambda row, column=columns[0]: (row[column],)) if columns else (lambda row: ())
        # DRF-JSONAPI leaves out an included to-one resource whose serialized data is empty,
        # which happens only when no field at all survives the sparse fieldset.
        self.fixed_fields = len(self.relationships) + (self.self_view is not None)
        # The compiled builder of this type's objects from rows (``compiled``), made on
        # first use; None: the generic ``Reader.resource`` (an instance's fields).
        self._builder: compiled.Builder | None = None
        self._compiled = reader.instances

    @property
    def builder(self) -> compiled.Builder | None:
        if not self._compiled:
            self._compiled = True
            self._builder = compiled.builder(self.reader, self)
        return self._builder

    @property
    def serializer(self):
        """The request's serializer of this type (its methods and bound fields), made only
        when a field needs it."""
        if self._serializer is None:
            self._serializer = self.spec.serializer_class(context=self.reader.context)
        return self._serializer

    @property
    def fields(self):
        return self.serializer.fields


def _from_uuid_text(to_representation: Callable[[Any], Any]) -> Callable[[str], Any]:
    """A UUID field's representation (another format than DRF's default text) of the
    UUID's text."""
    def convert(text: str) -> Any:
        return to_representation(UUID(text))

    return convert


def _datetime_converter(to_representation: Callable[[Any], Any], utc: bool):
    if not utc:
        return to_representation
    zone = dt.UTC

    def convert(value: Any) -> Any:
        if value.__class__ is str:  # read as text (``text.DatetimeText``)
            if value[-1:] == "Z":
                return value  # DRF's text, written by the database
            value = text_reads.iso_text(value)  # a stored text of another shape
            if value.__class__ is str:
                return value
        if value.tzinfo is zone:
            return value  # orjson writes DRF's ISO text, "Z" included
        return to_representation(value)

    return convert


def _covers(known: tuple, columns: set[str], text: dict[str, Any]) -> bool:
    """Whether rows read with ``known``'s (columns, text columns) serve a recipe reading
    ``columns`` with ``text``: every column there, and those decoded from text decoded alike
    (a column read through Django's converters serves both ways)."""
    return columns <= known[0] and (known[1] & columns) <= set(text)


class Reader:
    """Builds one request's document."""

    def __init__(self, view, spec: ResourceSpec, type_name: str, instances: bool) -> None:
        self.view = view
        # The document's source: the view's instances, or rows (see the module's docstring).
        self.instances = instances
        self.request = view.request
        self.context = view.get_serializer_context()
        self.query_params = self.request.query_params
        self.utc = _current_zone_is_utc()
        self.links = Links(self.request)
        self.include = tuple(get_included_resources(self.request))
        self.scope_column = getattr(view, "project_field", None)
        self.recipes: dict[tuple[int, str], Recipe] = {}
        self.primary = self.recipe(spec, type_name)
        self._steps: dict[tuple[int, tuple[str, ...]], list[IncludeStep]] = {}
        # Per include node (the relationship names walked from the primary data):
        self.targets: dict[tuple[str, ...], dict[Any, Row]] = {}        # to-one rows by pk
        self.children: dict[tuple[str, ...], dict[Any, list[Row]]] = {}  # to-many by parent
        # Rows read, for another walk of the same relation (model): (their columns, those
        # decoded from text, the rows).
        self._known_children: dict[tuple, tuple[set[str], set[str], dict[Any, list[Row]]]] = {}
        self._known_rows: dict[type, tuple[set[str], set[str], dict[Any, Row]]] = {}
        self.page_text: dict[str, text_reads.TextRead] = {}  # the page's columns read as text
        self.included: dict[str, dict[str, Any]] = defaultdict(dict)
        self.encode = False  # resource objects encoded once finished (``finished``)

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
        resources joined), or None for a document of instances (also when the ordering is
        not made of model fields: the rows could not carry the cursor keys)."""
        if self.instances:
            return None
        sort = row_queries.sort_columns(queryset)
        if sort is None:
            self.instances = True
            return None
        recipe = self.primary
        # The cursor links read the sort columns: those keep their Python values, but for
        # UUIDs, whose text is the cursor's own (``pagination._Key.encode``).
        text = {column: decode for column, decode in recipe.text.items()
                if column not in sort or text_reads.is_uuid_text(decode)}
        joined = []
        for _, child, pairs in self.joins(recipe, self.include, ()):
            joined += [key for key, _ in pairs]
            text.update((key, child.text[column]) for key, column in pairs
                        if column in child.text and (key not in sort or
                                                     text_reads.is_uuid_text(child.text[column])))
        self.page_text = text
        return row_queries.page_queryset(queryset, [*recipe.columns, *joined, *sort], text)

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
            if not node and relationship.column == self.scope_column:
                # The page's tenancy FK takes one value per project of the caller: one query
                # for those rows rather than their columns repeated (and parsed) on every row.
                continue
            lookup = f"{prefix}{relationship.field_name}__"
            child_node = (*node, relationship.name)
            chains.append((child_node, child, [(lookup + column, column)
                                               for column in child.columns]))
            chains += self.joins(child, nested, child_node, lookup)
        return chains

    def take_joined(self, recipe: Recipe, rows: list[Row], included: tuple[str, ...],
                    node: Node) -> None:
        for child_node, child, pairs in self.joins(recipe, included, node):
            self.targets[child_node] = row_queries.split_joined(rows, pairs, child.pk)

    def children_of(self, relationship: ToManySpec, keys: list, columns: list[str],
                    text: dict[str, text_reads.TextRead]) -> dict:
        """The to-many rows of ``keys``, from the rows already read for the same relation
        when they cover them (an included resource that is also primary data), else one
        query."""
        cache_key = (relationship.model, relationship.back_column)
        known = self._known_children.get(cache_key)
        wanted = set(columns)
        if known is not None and _covers(known, wanted, text) \
                and all(key in known[2] for key in keys):
            return known[2]
        grouped = row_queries.rows_by_parent(relationship, keys, columns, text)
        decoded = set(text) & wanted
        if known is not None and wanted <= known[0] and decoded == known[1]:
            known[2].update(grouped)
        else:
            self._known_children[cache_key] = (wanted, decoded, dict(grouped))
        return grouped

    def known(self, model, rows: Iterable[Row], columns: list[str], text: Iterable[str]
              ) -> None:
        """Remember rows read (with these columns, ``text`` of them decoded from text) for
        ``rows_of``."""
        pk = model._meta.pk.attname
        wanted = set(columns)
        decoded = set(text) & wanted
        known = self._known_rows.get(model)
        if known is None or not known[0] >= wanted or known[1] != decoded:
            known = self._known_rows[model] = (wanted, decoded, {})
        known[2].update((row[pk], row) for row in rows)

    def rows_of(self, relationship: ToOneSpec, keys: list, columns: list[str],
                text: dict[str, text_reads.TextRead]) -> dict:
        """The rows a to-one relation points at, by primary key: from the rows already read
        when they cover them (an included resource that is also primary data), else one
        query."""
        keys = [key for key in keys if key is not None]
        known = self._known_rows.get(relationship.model)
        if known is not None and _covers(known, set(columns), text) \
                and all(key in known[2] for key in keys):
            return {key: known[2][key] for key in keys}
        by_pk = row_queries.rows_by_pk(relationship, keys, columns, text)
        self.known(relationship.model, by_pk.values(), columns, text)
        return by_pk

    def fetch(self, node: Node, recipe: Recipe, rows: list[Row],
              included: tuple[str, ...]) -> None:
        steps = self.include_steps(recipe, included)
        by_name = {relationship.name: (child, nested) for relationship, child, nested in steps}
        keys = list(dict.fromkeys(row[recipe.pk] for row in rows))
        for relationship in recipe.spec.relationships:
            hooked = isinstance(relationship, MethodRelationshipSpec) \
                and relationship.rows is not None
            if not (hooked or isinstance(relationship, ToManySpec)):
                continue
            step = by_name.get(relationship.name)
            if step is None and relationship not in recipe.relationships:
                continue
            if hooked:  # the app's hook: one query (or a constant number) for the page
                columns = [relationship.model._meta.pk.attname] if step is None \
                    else step[0].columns
                self.children[(*node, relationship.name)] = relationship.rows.rows(
                    recipe.spec.model, keys, columns)
                continue
            # Without joins: the related rows come in the order the stock path's prefetch
            # reads them (the same statement but for its columns; a join could change the
            # order of a model without ``Meta.ordering``).
            if step is None:  # the linkage only: the keys, as text
                columns = [relationship.model._meta.pk.attname]
                text = text_reads.uuid_reads(relationship.model, columns)
            else:
                columns, text = step[0].columns, step[0].text
            self.children[(*node, relationship.name)] = self.children_of(
                relationship, keys, columns, text)
        for relationship, child, nested in steps:
            child_node = (*node, relationship.name)
            if isinstance(relationship, ToOneSpec):
                by_pk = self.targets.get(child_node)
                if by_pk is None:  # not joined: the rows already read, or one query
                    by_pk = self.targets[child_node] = self.rows_of(
                        relationship, [row[relationship.column] for row in rows],
                        child.columns, child.text)
                child_rows = list(by_pk.values())
            else:
                grouped = self.children[child_node]
                child_rows = [row for key in keys for row in grouped.get(key, ())]
            self.fetch(child_node, child, child_rows, nested)

    # --- one resource object ---
    def source(self, recipe: Recipe, item: Any) -> tuple[Row, Any]:
        """(row, instance) of a related item: a row, or an instance (and its row)."""
        if self.instances:
            return row_queries.row_of(item, recipe.columns), item
        return item, None

    def resource(self, recipe: Recipe, row: Row, node: Node, instance: Any = None):
        """(resource object, what each relationship links to, whether DRF-JSONAPI's
        serialized data would be non-empty)."""
        if instance is None:
            build = recipe.builder
            if build is not None:
                return build(row, node)
        attributes = dict(zip(recipe.attribute_names, recipe.attribute_values(row),
                              strict=False))  # (same lengths by construction)
        for name, column, convert in recipe.converted:
            value = row[column]
            if value is not None:
                attributes[name] = convert(value)
        for name, field in recipe.from_instance:
            try:
                value = field.get_attribute(instance)
            except SkipField:
                del attributes[name]
                continue
            attributes[name] = None if value is None else field.to_representation(value)
        for name, value_of in recipe.from_hook:
            attributes[name] = value_of(self.links, row)
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
                    text = str(key)
                    linkage = {"type": relationship.type, "id": text}
                    related[name] = linkage
                    if relationship.related_view is None:
                        relationships[name] = {"data": linkage}
                    else:
                        relationships[name] = {"links": {"related": self.links.url(
                            relationship.related_view, "pk", key, text)}, "data": linkage}
                elif isinstance(relationship, ToManySpec):
                    if instance is not None:
                        items = list(getattr(instance, relationship.accessor).all())
                        ids = [str(item.pk) for item in items]
                    else:
                        items = self.children[(*node, name)].get(pk, [])
                        child_pk = relationship.model._meta.pk.attname
                        ids = [str(item[child_pk]) for item in items]
                    type_name = relationship.type
                    related[name] = items
                    relationships[name] = {"meta": {"count": len(ids)}, "data": [
                        {"type": type_name, "id": id_} for id_ in ids]}
                elif relationship.rows is not None and not self.instances:
                    relationships[name] = self.hooked_relationship(relationship, node, pk,
                                                                   id_, related)
                else:
                    relationships[name] = self.method_relationship(
                        recipe, relationship, instance, related)
            obj["relationships"] = relationships
        if recipe.self_view is not None and pk is not None:
            obj["links"] = {"self": self.links.url(*recipe.self_view, pk, id_)}
        return obj, related, bool(attributes) or recipe.fixed_fields > 0

    def hooked_relationship(self, relationship: MethodRelationshipSpec, node: Node, pk: Any,
                            id_: str | None, related: dict) -> dict:
        """``method_relationship``'s object of a to-many method relationship, from the rows
        its hook read; records them in ``related`` for the includes."""
        items = self.children[(*node, relationship.name)].get(pk, [])
        related[relationship.name] = items
        data: dict[str, Any] = {}
        if relationship.related_link is not None:
            data["links"] = {"related": self.links.url(*relationship.related_link, pk, id_)}
        child_pk = relationship.model._meta.pk.attname
        type_name = relationship.type
        data["data"] = [{"type": type_name, "id": str(item[child_pk])} for item in items]
        data["meta"] = {"count": len(items)}
        return data

    def method_relationship(self, recipe: Recipe, relationship: MethodRelationshipSpec,
                            instance: Any, related: dict) -> dict:
        """DRF-JSONAPI's relationship object of a method relationship; records the related
        instance(s) in ``related`` for the includes."""
        value = getattr(recipe.serializer, relationship.method_name)(instance)
        links = None
        if relationship.links:
            field = recipe.fields[relationship.name]
            links = field.get_links(instance, field.related_link_lookup_field)
        type_name = relationship.type
        if not relationship.many:
            related[relationship.name] = value
            linkage = None if value is None else {
                "type": type_name or get_resource_type_from_instance(value),
                "id": str(value.pk)}
            return {"links": links, "data": linkage} if links else {"data": linkage}
        related[relationship.name] = value
        linkage = [{"type": type_name or get_resource_type_from_instance(item),
                    "id": str(item.pk)} for item in value or ()]
        data: dict[str, Any] = {"links": links} if links else {}
        data["data"] = linkage
        data["meta"] = {"count": len(linkage)}
        return data

    # --- included, walked as DRF-JSONAPI's renderer walks it (``extract_included``) ---
    def extract_included(self, recipe: Recipe, row: Row, related: dict,
                         included: tuple[str, ...], node: Node, instance: Any = None) -> None:
        if not included:
            return
        cache = self.included
        for relationship, child, nested in self.include_steps(recipe, included):
            name = relationship.name
            child_node = (*node, name)
            if isinstance(relationship, ToManySpec):
                # Included whatever the sparse fieldset (as DRF-JSONAPI does).
                if name in related:
                    items = related[name]
                elif instance is not None:
                    items = list(getattr(instance, relationship.accessor).all())
                else:
                    items = self.children[child_node].get(row[recipe.pk], [])
                for item in items:
                    self.add_included(child, item, nested, child_node)
                continue
            target = related.get(name)
            if not target:
                continue
            if isinstance(relationship, MethodRelationshipSpec):
                if relationship.many:
                    for item in target:
                        self.add_included(child, item, nested, child_node)
                    continue
                type_name, id_ = relationship.type or get_resource_type_from_instance(
                    target), str(target.pk)
            else:
                type_name, id_ = target["type"], target["id"]
            by_id = cache.get(type_name)
            if by_id is not None and id_ in by_id:
                continue  # already included: DRF-JSONAPI does not walk it again either
            if isinstance(relationship, ToOneSpec):
                target = getattr(instance, relationship.field_name) if instance is not None \
                    else self.targets[child_node].get(row[relationship.column])
            if target is None:
                continue
            target_row, target_instance = self.source(child, target)
            obj, target_related, has_data = self.resource(child, target_row, child_node,
                                                          target_instance)
            if not has_data:
                continue
            cache[obj["type"]][obj["id"]] = self.finished(obj)
            self.extract_included(child, target_row, target_related, nested, child_node,
                                  target_instance)

    def add_included(self, recipe: Recipe, item: Any, included: tuple[str, ...],
                     node: Node) -> None:
        row, instance = self.source(recipe, item)
        obj, related, _ = self.resource(recipe, row, node, instance)
        self.included[obj["type"]][obj["id"]] = self.finished(obj)
        self.extract_included(recipe, row, related, included, node, instance)

    def finished(self, obj: dict) -> Any:
        """A resource object once built: in a list, its JSON text (``encoded``), so the
        page's tens of thousands of dicts do not all live until the document is written:
        the garbage collector's passes over them cost a list more than building them.
        The renderer trims hidden relationships from the objects: then they stay dicts."""
        return encoded(obj) if self.encode else obj

    # --- the document ---
    def build(self, rows_or_instance: Any, many: bool) -> dict:
        request = self.request
        if not self.instances or getattr(request, "versioning_scheme", False) is not None:
            return self._build(rows_or_instance, many)
        # Serializer methods' reverse() calls (download URLs) use the link templates too.
        request.versioning_scheme = TemplatedReverse(self.links)
        try:
            return self._build(rows_or_instance, many)
        finally:
            request.versioning_scheme = None

    def _build(self, rows_or_instance: Any, many: bool) -> dict:
        recipe = self.primary
        sources = list(rows_or_instance) if many else [rows_or_instance]
        include = self.include
        if self.instances:
            instances = sources
            rows = [row_queries.row_of(source, recipe.columns) for source in sources]
        else:
            instances = [None] * len(sources)
            if all(isinstance(source, dict) for source in sources):  # from page_queryset
                rows = sources
                text_reads.decode_rows(rows, self.page_text)
                self.take_joined(recipe, rows, include, ())
            else:  # a show: the instance the view loaded
                rows = [row_queries.row_of(source, recipe.columns) for source in sources]
            self.known(recipe.spec.model, rows, recipe.columns, self.page_text)
            self.fetch((), recipe, rows, include)
        query = getattr(self.view, "jsonapi_query", None)
        self.encode = many and not getattr(query, "hidden_relationships", None)
        objects, keys = [], []
        for row, instance in zip(rows, instances, strict=True):
            obj, related, _ = self.resource(recipe, row, (), instance)
            keys.append((obj["type"], obj["id"]))
            objects.append(self.finished(obj))
            if include:
                self.extract_included(recipe, row, related, include, (), instance)
        document: dict[str, Any] = {"data": objects if many else objects[0]}
        cache = self.included
        for type_name, id_ in keys:  # the primary data is never repeated in `included`
            by_id = cache.get(type_name)
            if by_id is not None:
                by_id.pop(id_, None)
                if not by_id:
                    del cache[type_name]
        if include:
            document["included"] = [cache[type_name][id_] for type_name in sorted(cache)
                                    for id_ in sorted(cache[type_name])]
        return document
