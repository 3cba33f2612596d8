"""A sync's table bindings, shown read-only on its page (they change through the API)."""

from __future__ import annotations

from jobs.admin import ReadOnlyInline
from syncs.models import TableBinding


class TableBindingInline(ReadOnlyInline):
    model = TableBinding
    fields = ["entity_key", "physical_table_name", "logical_table_name", "table_name",
              "load_mode", "cursor_field", "primary_key_columns", "table_naming_version",
              "source_instance_key"]
    ordering = ["entity_key"]
