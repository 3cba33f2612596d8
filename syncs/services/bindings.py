"""Table bindings as resources (POST/PATCH/DELETE /table-bindings, atomic operations). A
binding is one entity of its sync: each write is the sync's own update (its entities and
table_bindings), so validate_sync's rules are the only rules."""

from __future__ import annotations

from syncs.models import Sync, TableBinding
from syncs.services.syncs import update_sync
from syncservice.jsonapi.errors import Conflict

BINDING_MEMBERS = ("logical_table_name", "table_name", "table_naming_version", "load_mode",
                   "cursor_field", "primary_key_columns")


def _bindings_of(sync: Sync) -> list[dict]:
    """The stored bindings as update_sync takes them back (table_name only where it is not
    the derived one, so a renamed logical table still derives its physical name)."""
    given = []
    for binding in sync.table_bindings.all():
        values = {"entity_key": binding.entity_key,
                  **{name: getattr(binding, name) for name in BINDING_MEMBERS}}
        if binding.table_name == binding.physical_table_name:
            values.pop("table_name")
        given.append(values)
    return given


def add_binding(sync: Sync, values: dict, *, actor: str = "") -> TableBinding:
    """Bind one more entity of the sync's provider: the entity joins the sync's entities."""
    entity = values["entity_key"]
    if entity in (sync.entities or []):
        raise Conflict(f"The sync already binds {entity!r}; update that binding instead.")
    update_sync(sync, {"entities": [*(sync.entities or []), entity],
                       "table_bindings": [*_bindings_of(sync), values]}, actor=actor)
    return sync.table_bindings.get(entity_key=entity)


def update_binding(binding: TableBinding, values: dict, *, actor: str = "") -> TableBinding:
    sync = binding.sync
    given = [{**item, **values} if item["entity_key"] == binding.entity_key else item
             for item in _bindings_of(sync)]
    update_sync(sync, {"table_bindings": given}, actor=actor)
    return TableBinding.objects.get(pk=binding.pk)


def remove_binding(binding: TableBinding, *, actor: str = "") -> None:
    """Unbind an entity: it leaves the sync's entities (its synced table stays)."""
    sync = binding.sync
    update_sync(sync, {"entities": [e for e in sync.entities if e != binding.entity_key]},
                actor=actor)
