"""The rows a document is built from: ``.values()`` queries through public ORM calls, one
per relation walked, whatever the number of rows (a constant number of queries per list)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.core.exceptions import FieldDoesNotExist
from django.db.models import QuerySet

from syncservice.jsonapi.read.spec import ResourceSpec, ToManySpec, ToOneSpec, hook_columns
from syncservice.jsonapi.read.text import TextRead, decode_rows, text_expressions, uuid_reads

Row = dict[str, Any]


def columns_for(spec: ResourceSpec, fields: set[str] | None) -> list[str]:
    """The columns a resource object of ``spec`` reads under the sparse fieldset ``fields``:
    the primary key, the attributes asked for and every FK (cheap, and what linkage and
    includes follow)."""
    columns = [spec.model._meta.pk.attname]
    for attribute in spec.attributes:
        if fields is None or attribute.name in fields:
            if attribute.column is not None:
                columns.append(attribute.column)
            columns += hook_columns(attribute)
    columns += [r.column for r in spec.relationships if isinstance(r, ToOneSpec)]
    return list(dict.fromkeys(columns))


def sort_columns(queryset: QuerySet) -> list[str] | None:
    """The ``.values()`` keys of the queryset's ordering (what cursor links read from the
    page's rows), or None when a term is not a model field path (an annotation)."""
    model = queryset.model
    columns = []
    for term in queryset.query.order_by:
        if not isinstance(term, str):
            return None
        path = term.lstrip("-")
        if path == "pk":
            path = model._meta.pk.name
        current = model
        try:
            for part in path.split("__"):
                model_field = current._meta.get_field(part)
                current = model_field.related_model or current
        except FieldDoesNotExist:
            return None
        columns.append(path)
    return columns


def values(queryset: QuerySet, columns: list[str], text: dict[str, TextRead]) -> QuerySet:
    """``queryset`` as rows of ``columns``, those in ``text`` read as text (``decode_rows``
    decodes them once fetched)."""
    return queryset.values(*(column for column in columns if column not in text),
                           **text_expressions(text))


def page_queryset(queryset: QuerySet, columns: list[str], text: dict[str, TextRead]
                  ) -> QuerySet:
    """The view's filtered and sorted queryset as rows of ``columns``."""
    return values(queryset.select_related(None).prefetch_related(None), columns, text)


def row_of(instance: Any, columns: list[str]) -> Row:
    """The row of an instance the view already loaded (a show): its UUIDs as their text, as
    rows read them (``text.uuid_read``)."""
    row = {column: getattr(instance, column) for column in columns}
    for column, value in row.items():
        if value.__class__ is UUID:
            row[column] = str(value)
    return row


def read_rows(queryset: QuerySet, columns: list[str]) -> list[Row]:
    """``queryset``'s rows of ``columns`` with its UUID columns as their text, the keys every
    row of a document has (a row hook's rows, ``hooks.row_relationship``)."""
    text = uuid_reads(queryset.model, columns)
    rows = list(values(queryset, columns, text))
    decode_rows(rows, text)
    return rows


def rows_by_pk(relationship: ToOneSpec, keys: Iterable[Any], columns: list[str],
               text: dict[str, TextRead]) -> dict:
    """The related rows of a to-one relationship, by primary key: read with the related
    model's base manager, as Django reads a forward relation."""
    keys = {key for key in keys if key is not None}
    if not keys:
        return {}
    pk = relationship.model._meta.pk.attname
    rows = list(values(relationship.model._base_manager.filter(pk__in=keys), columns, text))
    decode_rows(rows, text)
    return {row[pk]: row for row in rows}


def rows_by_parent(relationship: ToManySpec, parent_keys: Iterable[Any],
                   columns: list[str], text: dict[str, TextRead]) -> dict[Any, list[Row]]:
    """The related rows of a to-many relationship, grouped by parent key (every key given,
    with or without rows), in the order of the related model's default manager (as its
    related manager and prefetch read them)."""
    grouped: dict[Any, list[Row]] = {key: [] for key in parent_keys}
    if not grouped:
        return grouped
    back = relationship.back_column
    model = relationship.model
    queryset = model._default_manager.filter(**{f"{back}__in": list(grouped)})
    text = {**uuid_reads(model, [back]), **text}  # grouped by the parents' keys, as text
    rows = list(values(within_parent_order(queryset, back),
                       list(dict.fromkeys([*columns, back])), text))
    decode_rows(rows, text)
    for row in rows:
        grouped[row[back]].append(row)
    return grouped


def within_parent_order(queryset: QuerySet, back: str) -> QuerySet:
    """``queryset`` without the leading terms of its ordering that sort by the FK ``back``
    itself: rows are grouped by it, so those terms order nothing within a group, and a term
    naming the relation sorts by the parent model's ordering, through a join."""
    if queryset.query.order_by or not queryset.query.default_ordering:
        return queryset
    meta = queryset.model._meta
    ordering = list(meta.ordering)
    back_name = meta.get_field(back).name
    kept = ordering
    while kept and isinstance(kept[0], str) and kept[0].lstrip("-") in (back, back_name):
        kept = kept[1:]
    if kept == ordering or not _unique_within(meta, back_name, kept):
        return queryset  # ties would fall in the database's order, which a plan can change
    return queryset.order_by(*kept)


def _unique_within(meta, back_name: str, terms: list) -> bool:
    """Whether ``terms`` order the rows of one parent totally (no ties): they name the
    primary key, a unique field, or with the FK the fields of a unique constraint."""
    if not all(isinstance(term, str) for term in terms):
        return False
    names = {term.lstrip("-") for term in terms}
    if names & {"pk", meta.pk.name, meta.pk.attname}:
        return True
    for name in names:
        try:
            if meta.get_field(name).unique:
                return True
        except FieldDoesNotExist:
            return False
    return any(set(constraint.fields) <= names | {back_name}
               for constraint in meta.total_unique_constraints) \
        or any(set(together) <= names | {back_name} for together in meta.unique_together)


def split_joined(rows: Iterable[Row], joined: list[tuple[str, str]], pk: str) -> dict:
    """The rows of a to-one relation read by a join (``joined``: (row key, column) pairs),
    by primary key; a missing relation (a NULL FK) gives no row."""
    pk_key = next(key for key, column in joined if column == pk)
    targets = {}
    for row in rows:
        key = row[pk_key]
        if key is not None and key not in targets:
            targets[key] = {column: row[name] for name, column in joined}
    return targets
