"""One resource-object builder per resource type and request, compiled from its recipe.

A list builds thousands of resource objects of a few recipes: the generic
``Reader.resource`` decides per object and per field what each attribute and relationship
is. For a document built from rows, this module writes that decision down once, as the
Python source of a function turning one row into the resource object (a dict display with
the recipe's keys, one branch per relationship kind), and compiles it. The source depends
on the recipe's shape only (names, columns, kinds), so its code object is cached by its
text; the per-request pieces (converters, hooks, links, the rows read for to-many
relationships) are bound when the builder is made.

The builder returns what ``Reader.resource`` returns, the same objects
(``tests/jsonapi/test_fast_path.py`` and the property test compare the documents).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from syncservice.jsonapi.read.spec import MethodRelationshipSpec, ToManySpec, ToOneSpec
from syncservice.jsonapi.read.text import is_uuid_text

Builder = Callable[[dict, tuple], tuple[dict, dict, bool]]


class _Source:
    """The lines of the builder's source and the values it refers to, by name."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.values: dict[str, Any] = {}

    def bind(self, prefix: str, value: Any) -> str:
        name = f"{prefix}{len(self.values)}"
        self.values[name] = value
        return name

    def add(self, line: str, indent: int = 1) -> None:
        self.lines.append("    " * indent + line)


def builder(reader, recipe) -> Builder | None:
    """``recipe``'s builder for rows, or None when a field needs an instance (the generic
    ``Reader.resource`` builds those)."""
    source = _Source()
    source.values.update(links=reader.links, children=reader.children)
    source.add(f"pk = row[{recipe.pk!r}]")
    source.add("id_ = None if pk is None else str(pk)")
    if not _attributes(source, recipe) or not _relationships(source, reader, recipe):
        return None
    source.add(f"obj = {{'type': {recipe.type!r}, 'id': id_}}")
    if recipe.attribute_reads:
        source.add("obj['attributes'] = attributes")
    if recipe.relationships:
        source.add("obj['relationships'] = relationships")
    if recipe.self_view is not None:
        link = source.bind("link", reader.links.linker(*recipe.self_view,
                                                       _uuid_text(recipe, recipe.pk)))
        source.add("if pk is not None:")
        source.add(f"obj['links'] = {{'self': {link}(pk, id_)}}", 2)
    has_data = bool(recipe.attribute_reads) or recipe.fixed_fields > 0
    source.add(f"return obj, related, {has_data!r}")
    make = _compiled("\n".join(source.lines), tuple(source.values))
    return make(**source.values)


def _attributes(source: _Source, recipe) -> bool:
    """Lines setting ``attributes``, in the serializer's order; False when one is read from
    the instance."""
    items = []
    for index, (name, how, column, function) in enumerate(recipe.attribute_reads):
        value = f"a{index}"
        if how == "instance":
            return False
        if how == "hook":
            source.add(f"{value} = {source.bind('hook', function)}(links, row)")
        elif how == "converted":
            source.add(f"{value} = row[{column!r}]")
            source.add(f"if {value} is not None:")
            source.add(f"{value} = {source.bind('convert', function)}({value})", 2)
        else:
            value = f"row[{column!r}]"
        items.append(f"{name!r}: {value}")
    source.add(f"attributes = {{{', '.join(items)}}}")
    return True


def _relationships(source: _Source, reader, recipe) -> bool:
    """Lines setting ``relationships`` and ``related`` (what each relationship links to, for
    the includes); False for a relationship computed by a serializer method."""
    source.add("related = {}")
    items = []
    for index, relationship in enumerate(recipe.relationships):
        value = f"r{index}"
        name = relationship.name
        if isinstance(relationship, ToOneSpec):
            _to_one(source, reader, recipe, relationship, value)
        elif isinstance(relationship, ToManySpec) or (
                isinstance(relationship, MethodRelationshipSpec) and relationship.rows):
            _to_many(source, reader, recipe, relationship, value)
        else:
            return False
        items.append(f"{name!r}: {value}")
    source.add(f"relationships = {{{', '.join(items)}}}")
    return True


def _to_one(source: _Source, reader, recipe, relationship: ToOneSpec, value: str) -> None:
    name = relationship.name
    source.add(f"key = row[{relationship.column!r}]")
    source.add("if key is None:")
    source.add(f"related[{name!r}] = None", 2)
    source.add(f"{value} = {{'data': None}}", 2)
    source.add("else:")
    source.add(f"linkage = {{'type': {relationship.type!r}, 'id': str(key)}}", 2)
    source.add(f"related[{name!r}] = linkage", 2)
    if relationship.related_view is None:
        source.add(f"{value} = {{'data': linkage}}", 2)
    else:
        link = source.bind("link", reader.links.linker(
            relationship.related_view, "pk", _uuid_text(recipe, relationship.column)))
        source.add(f"{value} = {{'links': {{'related': {link}(key, linkage['id'])}}, "
                   "'data': linkage}", 2)


def _to_many(source: _Source, reader, recipe, relationship, value: str) -> None:
    """A reverse FK (``ToManySpec``: meta, then data) or a hooked method relationship
    (links, data, meta), from the rows read for the node (``Reader.children``)."""
    name = relationship.name
    child_pk = relationship.model._meta.pk.attname
    source.add(f"items = children[node + ({name!r},)].get(pk, ())")
    source.add(f"related[{name!r}] = items")
    source.add(f"data = [{{'type': {relationship.type!r}, 'id': str(item[{child_pk!r}])}} "
               "for item in items]")
    if isinstance(relationship, ToManySpec):
        source.add(f"{value} = {{'meta': {{'count': len(data)}}, 'data': data}}")
        return
    if relationship.related_link is None:
        source.add(f"{value} = {{'data': data, 'meta': {{'count': len(data)}}}}")
        return
    link = source.bind("link", reader.links.linker(*relationship.related_link,
                                                   _uuid_text(recipe, recipe.pk)))
    source.add(f"{value} = {{'links': {{'related': {link}(pk, id_)}}, 'data': data, "
               "'meta': {'count': len(data)}}")


def _uuid_text(recipe, column: str) -> bool:
    """Whether the rows hold ``column`` as a UUID's text (``text.uuid_read``)."""
    read = recipe.text.get(column)
    return read is not None and is_uuid_text(read)


@functools.lru_cache(maxsize=256)  # sparse fieldsets make the shapes: keep a bounded few
def _compiled(body: str, names: tuple[str, ...]) -> Callable[..., Builder]:
    """A function of ``names`` returning the builder whose body is ``body``."""
    text = (f"def make({', '.join(names)}):\n"
            f"    def build(row, node):\n"
            + "\n".join("    " + line for line in body.splitlines())
            + "\n    return build\n")
    namespace: dict[str, Any] = {}
    exec(compile(text, "<read path builder>", "exec"), namespace)  # noqa: S102 - our source
    return namespace["make"]
