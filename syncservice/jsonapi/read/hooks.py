"""Row hooks: how an app lets the read path build from rows a field it otherwise reads from
model instances (a method field, a method relationship).

An app declares them beside its serializers::

    @row_field(ExportSerializer, "attachment_url", columns=("id", "status"))
    def attachment_url(links: Links, row: Row) -> str | None: ...

    @row_relationship(WithEvents, "events")
    def events(parent_model, parent_keys, columns) -> dict[Any, list[Row]]: ...

A hook applies to the serializer class it is declared on and to its subclasses (the nearest
declaration wins). A ``row_field`` hook returns the field's representation from the row's
``columns`` (model attnames) and the request's ``Links`` (DRF's ``reverse`` of one-keyword
routes); a ``row_relationship`` hook (a to-many method relationship) returns, for every parent
key given, the related rows with ``columns`` in the order the serializer method returns them,
from a constant number of queries. UUID columns, parent keys included, are their text
(``str(UUID)``) in every row of a document: a hook reads its rows with ``read_rows``. The
documents must be the stock path's bytes: the read
path's tests compare them. Hooks are read when a serializer's spec is derived (once per
class): declare them at import time of the serializer's module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models

from syncservice.jsonapi.read.links import Links

Row = dict[str, Any]
FieldValue = Callable[[Links, Row], Any]
RelatedRows = Callable[[type[models.Model], list[Any], list[str]], dict[Any, list[Row]]]


@dataclass(frozen=True)
class RowField:
    columns: tuple[str, ...]   # the row columns ``value`` reads
    value: FieldValue          # (request's links, row) -> the field's representation


@dataclass(frozen=True)
class RowRelationship:
    rows: RelatedRows   # (parent model, parent keys, related columns) -> rows by parent key


_field_hooks: dict[tuple[type, str], RowField] = {}
_relationship_hooks: dict[tuple[type, str], RowRelationship] = {}


def row_field(serializer_class: type, field_name: str, *, columns: Sequence[str] = ()
              ) -> Callable[[FieldValue], FieldValue]:
    """Declare how ``serializer_class``'s method field ``field_name`` is computed from a row
    of ``columns``."""
    def register(value: FieldValue) -> FieldValue:
        _field_hooks[(serializer_class, field_name)] = RowField(tuple(columns), value)
        return value
    return register


def row_relationship(serializer_class: type, field_name: str
                     ) -> Callable[[RelatedRows], RelatedRows]:
    """Declare how the related rows of ``serializer_class``'s to-many method relationship
    ``field_name`` are read."""
    def register(rows: RelatedRows) -> RelatedRows:
        _relationship_hooks[(serializer_class, field_name)] = RowRelationship(rows)
        return rows
    return register


def _nearest(hooks: dict[tuple[type, str], Any], serializer_class: type, field_name: str):
    for cls in serializer_class.__mro__:
        hook = hooks.get((cls, field_name))
        if hook is not None:
            return hook
    return None


def field_hook(serializer_class: type, field_name: str) -> RowField | None:
    return _nearest(_field_hooks, serializer_class, field_name)


def relationship_hook(serializer_class: type, field_name: str) -> RowRelationship | None:
    return _nearest(_relationship_hooks, serializer_class, field_name)
