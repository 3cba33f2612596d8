"""The COPY fast path of the service's own resources (``ModelResource``) on PostgreSQL: the
resource's queryset (project, filters, order) with a SELECT list that formats each value as the
format's Python writer does (``exports.tables.copy_select``), and each included relationship
embedded by a correlated subquery (the JSON text of the related row, or the array of the
related rows in key order, nested includes inside them), as ``ModelResource.embed`` does."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from django.db import connections, models, router
from django.db.models.expressions import RawSQL

from exports.copy_stream import copy_batches
from exports.dry import keeps_column
from exports.resources import ModelResource
from exports.tables.copy_select import (
    COPY_FORMATS,
    CopyColumn,
    copy_statement,
    decoder,
    expressions,
    json_object,
)
from exports.tables.introspection import TableColumn
from syncservice.jsonapi.query import included_serializers

_INTEGER_FIELDS = (models.AutoField, models.BigAutoField, models.SmallAutoField,
                   models.IntegerField, models.BigIntegerField, models.SmallIntegerField,
                   models.PositiveIntegerField, models.PositiveSmallIntegerField,
                   models.PositiveBigIntegerField)
_TEXT_FIELDS = (models.CharField, models.TextField)


def table_column(field: models.Field) -> TableColumn:
    """The kind of value a model field holds, as ``exports.tables.sql_format`` knows them."""
    if isinstance(field, models.ForeignKey):
        return table_column(field.target_field)
    if isinstance(field, models.BooleanField):
        return TableColumn(field.column, "bool", "boolean")
    if isinstance(field, _INTEGER_FIELDS):
        return TableColumn(field.column, "int", "bigint")
    if isinstance(field, models.FloatField):
        return TableColumn(field.column, "float", "double precision")
    if isinstance(field, models.DecimalField):
        return TableColumn(field.column, "decimal", "numeric", field.decimal_places)
    if isinstance(field, models.DateTimeField):  # (before DateField: it is one)
        return TableColumn(field.column, "datetime", "timestamptz")
    if isinstance(field, models.DateField):
        return TableColumn(field.column, "date", "date")
    if isinstance(field, models.TimeField):
        return TableColumn(field.column, "time", "time")
    if isinstance(field, models.UUIDField):
        return TableColumn(field.column, "uuid", "uuid")
    if isinstance(field, models.JSONField):
        return TableColumn(field.column, "json", "jsonb")
    if isinstance(field, _TEXT_FIELDS):
        return TableColumn(field.column, "text", "text")
    return TableColumn(field.column, "other")


class CopyModelResource(ModelResource):
    """A ``ModelResource`` with the COPY fast path (``copy_batches``) on PostgreSQL."""

    @property
    def using(self) -> str:
        return router.db_for_read(self.model)

    def _quote(self, name: str) -> str:
        return connections[self.using].ops.quote_name(name)

    def supports_copy(self, format_name: str) -> bool:
        return (connections[self.using].vendor == "postgresql"
                and format_name in COPY_FORMATS)

    def copy_batches(self, project, filters: Mapping[str, str], fields: Sequence[str],
                     includes: Sequence[str], format_name: str,
                     batch_size: int, dry: bool = False) -> Iterator:
        """The rows of ``batch_size`` at a time, encoded for ``format_name`` by one COPY:
        what the format's writer writes for the same rows of ``batches`` (``dry``: of
        ``exports.dry.dry_row`` of them)."""
        if not self.supports_copy(format_name):
            raise NotImplementedError(f"No COPY fast path for {format_name} here (it needs "
                                      "PostgreSQL, and xlsx has none).")
        base = self._quote(self.model._meta.db_table)  # Django's alias of the base table
        columns = self._copy_columns(self._selected(fields), base)
        names = [c.name for c in columns]
        tree = _tree(includes)
        columns += [CopyColumn(head, self._embedded(head, tree[head], base, 1))
                    for head in tree if head not in names]
        if dry:
            columns = [c for c in columns if keeps_column(c.name)]
        names = [c.name for c in columns]
        annotations = {f"_export_{index}": RawSQL(expression, ()) for index, expression
                       in enumerate(expressions(format_name, columns, dry))}
        queryset = (self.queryset(project, filters).order_by("pk").annotate(**annotations)
                    .values_list(*annotations))
        select, params = queryset.query.get_compiler(using=self.using).as_sql()
        sql = copy_statement(format_name, select)
        return copy_batches(self.using, sql, params, batch_size, decoder(format_name, names))

    def _copy_columns(self, selected, alias: str) -> list[CopyColumn]:
        by_attname = {f.attname: f for f in self.model._meta.concrete_fields}
        columns = []
        for column in selected:
            field = by_attname[column.orm]
            columns.append(CopyColumn(column.name, f"{alias}.{self._quote(field.column)}",
                                      table_column(field)))
        return columns

    def _embedded(self, name: str, nested: list[str], outer: str, depth: int) -> str:
        """The JSON of relationship ``name`` of the row ``outer`` (an SQL alias): the related
        row (or null), or the related rows in key order (or []), ``nested`` embedded."""
        source, many = self._relations[name]
        serializer = included_serializers(self.serializer_class)[name]
        related = CopyModelResource(name=name, model=serializer.Meta.model,
                                    serializer_class=serializer)
        model = related.model
        alias = self._quote(f"_export_t{depth}")
        columns = related._copy_columns(list(related._columns.values()), alias)
        names = [c.name for c in columns]
        tree = _tree(nested)
        columns += [CopyColumn(head, related._embedded(head, tree[head], alias, depth + 1))
                    for head in tree if head not in names]
        row = json_object(columns)
        table = f"{self._quote(model._meta.db_table)} AS {alias}"
        pk = f"{alias}.{self._quote(model._meta.pk.column)}"
        relation = self.model._meta.get_field(source)
        if many:  # the reverse of a foreign key on the related model
            foreign_key = relation.remote_field
            where = (f"{alias}.{self._quote(foreign_key.column)} = "
                     f"{outer}.{self._quote(foreign_key.target_field.column)}")
            return (f"(SELECT '[' || COALESCE(string_agg({row}, ',' ORDER BY {pk}), '') || ']' "
                    f"FROM {table} WHERE {where})")
        where = f"{pk} = {outer}.{self._quote(relation.column)}"
        return f"(SELECT {row} FROM {table} WHERE {where})"


def _tree(includes: Sequence[str]) -> dict[str, list[str]]:
    """Each include path's head and the rest of the paths under it."""
    tree: dict[str, list[str]] = {}
    for path in includes:
        head, _, rest = path.partition(".")
        tree.setdefault(head, []).extend([rest] if rest else [])
    return tree
