"""What can be exported: the ``ExportableResource`` protocol and ``ModelResource``.

A resource type is exported with the names of its API: the same attributes, the same
``filter[...]`` grammar (names, ``__in``/``__gte``/``__lte``), the same ``fields`` and the
same ``includes``. ``ModelResource`` derives all of that from a resource's API viewset; the
syncs app exports each synced data set too. The resource types are registered by name in
``exports.registry``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import models
from rest_framework.relations import ManyRelatedField
from rest_framework_json_api.relations import ResourceRelatedField

from syncservice.jsonapi.errors import InvalidAttribute, ParameterError
from syncservice.jsonapi.filters import apply_filters
from syncservice.jsonapi.query import included_serializers, validate_include

Row = dict[str, Any]


class ExportableResource(Protocol):
    name: str

    def validate(self, filters: Mapping[str, str], fields: Sequence[str],
                 includes: Sequence[str]) -> None:
        """Raise ``InvalidAttribute`` (422, pointer under /data/attributes) on a mistake."""

    def columns(self, fields: Sequence[str], includes: Sequence[str]) -> list[str]: ...

    def count(self, project, filters: Mapping[str, str]) -> int: ...

    def batches(self, project, filters: Mapping[str, str], fields: Sequence[str],
                includes: Sequence[str], batch_size: int) -> Iterator[list[Row]]: ...


# --- values as the API writes them ------------------------------------------------------------

def iso_datetime(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.isoformat().replace("+00:00", "Z")


def _to_str(value):
    return None if value is None else str(value)


def converter_for(model_field: models.Field | None) -> Callable[[Any], Any] | None:
    if isinstance(model_field, models.DateTimeField):
        return iso_datetime
    if isinstance(model_field, (models.DateField, models.TimeField)):
        return lambda v: None if v is None else v.isoformat()
    if isinstance(model_field, (models.UUIDField, models.DecimalField)):
        return _to_str
    if isinstance(model_field, models.ForeignKey) and isinstance(
            model_field.target_field, models.UUIDField):
        return _to_str
    return None


def normalize(value: Any) -> Any:
    """For values whose type the column does not tell (e.g. inside JSON)."""
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, dt.datetime):
        return iso_datetime(value)
    return value


@dataclass
class _Column:
    name: str            # as exported
    orm: str             # as .values() takes it
    convert: Callable[[Any], Any] | None


@dataclass
class ModelResource:
    """A resource exported from its Django model with the shape of its API serializer:
    ``id``, every attribute, and each to-one relationship as ``<name>_id``. ``includes`` embed
    the related resource(s) under the relationship's name, one batch query per relationship."""

    name: str
    model: type[models.Model]
    serializer_class: type
    filterset_class: type | None = None
    project_field: str = "project_id"
    _columns: dict[str, _Column] = field(default_factory=dict, init=False)
    _relations: dict[str, tuple[str, bool]] = field(default_factory=dict, init=False)

    @classmethod
    def from_viewset(cls, name: str, viewset: type) -> ModelResource:
        return cls(name=name, model=viewset.queryset.model,
                   serializer_class=viewset.serializer_class,
                   filterset_class=viewset.filterset_class,
                   project_field=viewset.project_field)

    def __post_init__(self) -> None:
        pk = self.model._meta.pk
        self._columns["id"] = _Column("id", pk.attname, converter_for(pk))
        for api_name, serializer_field in self.serializer_class().fields.items():
            if api_name in ("url", "id") or serializer_field.write_only:
                continue
            source = serializer_field.source
            if source == "*":
                continue  # a computed relationship (e.g. events): not a column or a join
            if isinstance(serializer_field, ManyRelatedField):
                self._relations[api_name] = (source, True)
                continue
            if isinstance(serializer_field, ResourceRelatedField):
                model_field = self.model._meta.get_field(source)
                self._relations[api_name] = (source, False)
                self._columns[api_name] = _Column(f"{api_name}_id", model_field.attname,
                                                  converter_for(model_field))
                continue
            try:
                model_field = self.model._meta.get_field(source)
            except Exception:  # noqa: BLE001 - computed API fields have no column to export
                continue
            if not model_field.concrete:
                continue
            self._columns[api_name] = _Column(api_name, model_field.attname,
                                              converter_for(model_field))

    # --- validation ------------------------------------------------------------------------
    def validate(self, filters, fields, includes) -> None:
        for index, name in enumerate(fields):
            if name not in self._columns and name not in self._relations:
                raise InvalidAttribute(
                    "fields", f"Unknown field {name!r} of {self.name}; fields: "
                              f"{', '.join(sorted(set(self._columns) - {'id'}))}.",
                    pointer=f"/data/attributes/fields/{index}")
        for index, path in enumerate(includes):
            if path.split(".")[0] not in self._relations:
                # Computed relationships (events) are the API's, not columns to export.
                raise InvalidAttribute(
                    "includes", f"Unknown relationship path {path.split('.')[0]!r} in "
                                f"`includes`; allowed at this level: "
                                f"{', '.join(sorted(self._relations)) or 'none'}.",
                    pointer=f"/data/attributes/includes/{index}")
            try:
                validate_include(self.serializer_class, [path], "includes")
            except ParameterError as exc:
                raise InvalidAttribute("includes", str(exc.detail),
                                       pointer=f"/data/attributes/includes/{index}") from None

        try:
            apply_filters(self.model.objects.none(), self.filterset_class, filters, None)
        except ParameterError as exc:
            name = exc.parameter.removeprefix("filter[").removesuffix("]")
            raise InvalidAttribute("filters", str(exc.detail),
                                   pointer=f"/data/attributes/filters/{name}") from None

    # --- rows ------------------------------------------------------------------------------
    def _selected(self, fields: Sequence[str]) -> list[_Column]:
        if not fields:
            return list(self._columns.values())
        wanted = ["id", *fields]
        return [self._columns[name] for name in self._columns if name in wanted]

    def columns(self, fields, includes) -> list[str]:
        names = [c.name for c in self._selected(fields)]
        names += [head for head in _heads(includes) if head not in names]
        return names

    def queryset(self, project, filters):
        queryset = self.model._default_manager.filter(**{self.project_field: project.pk})
        return apply_filters(queryset, self.filterset_class, filters, None)

    def count(self, project, filters) -> int:
        return self.queryset(project, filters).count()

    def batches(self, project, filters, fields, includes, batch_size) -> Iterator[list[Row]]:
        selected = self._selected(fields)
        # Embedding a to-one relationship needs its key even when `fields` leaves it out.
        helper_keys = []
        for head in _heads(includes):
            column = self._columns.get(head)
            if column is not None and column not in selected:
                selected.append(column)
                helper_keys.append(column.name)
        queryset = self.queryset(project, filters).order_by("pk")
        rows = queryset.values_list(*[c.orm for c in selected]).iterator(chunk_size=batch_size)
        batch: list[Row] = []
        for values in rows:
            batch.append(_record(selected, values))
            if len(batch) >= batch_size:
                yield self._finish(batch, includes, helper_keys)
                batch = []
        if batch:
            yield self._finish(batch, includes, helper_keys)

    def _finish(self, batch: list[Row], includes, helper_keys) -> list[Row]:
        self.embed(batch, includes)
        for record in batch:
            for key in helper_keys:
                del record[key]
        return batch

    def embed(self, batch: list[Row], includes: Sequence[str]) -> None:
        """Put each included relationship's resource(s) under its name, with one query per
        relationship per batch; nested paths recurse into the embedded records."""
        tree: dict[str, list[str]] = {}
        for path in includes:
            head, _, rest = path.partition(".")
            tree.setdefault(head, []).extend([rest] if rest else [])
        for name, nested in tree.items():
            source, many = self._relations[name]
            related_serializer = included_serializers(self.serializer_class)[name]
            related = ModelResource(name=name, model=related_serializer.Meta.model,
                                    serializer_class=related_serializer)
            if many:
                fk = self.model._meta.get_field(source).remote_field.attname
                normalize_key = self._columns["id"].convert or (lambda v: v)
                grouped: dict[Any, list[Row]] = {}
                for key, row in related.rows_where({f"{fk}__in": [r["id"] for r in batch]},
                                                   nested, group_by=fk):
                    grouped.setdefault(normalize_key(key), []).append(row)
                for record in batch:
                    record[name] = grouped.get(record["id"], [])
            else:
                key = f"{name}_id"
                wanted = {record.get(key) for record in batch} - {None}
                by_id = {row["id"]: row for _, row in related.rows_where({"pk__in": wanted},
                                                                          nested)}
                for record in batch:
                    record[name] = by_id.get(record.get(key))

    def rows_where(self, lookup: dict, nested: Sequence[str], group_by: str = "pk"):
        """(group key, record) pairs of the rows matching ``lookup``, with ``nested``
        includes embedded."""
        selected = list(self._columns.values())
        pairs = [(values[0], _record(selected, values[1:]))
                 for values in self.model._default_manager.filter(**lookup).order_by("pk")
                 .values_list(group_by, *[c.orm for c in selected])]
        if nested:
            self.embed([record for _, record in pairs], nested)
        return pairs


def _heads(includes: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(path.split(".")[0] for path in includes))


def _record(columns: Sequence[_Column], values: Sequence[Any]) -> Row:
    return {c.name: (c.convert(v) if c.convert else v) for c, v in zip(columns, values,
                                                                         strict=True)}
