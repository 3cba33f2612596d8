"""Syncs: created and updated through ``validate_sync`` (their bindings, schedule and an
on-create run along), and deleted only while they have no runs."""

from __future__ import annotations

from django.db import transaction

from syncs.models import Sync, SyncRun, SyncState
from syncs.services.binding_defaults import save_bindings
from syncs.services.errors import SyncStateError
from syncs.services.runs import trigger
from syncs.services.scheduling import schedule_next
from syncs.services.validation import validate_sync


@transaction.atomic
def create_sync(project, data: dict, *, actor: str = "") -> Sync:
    cleaned = validate_sync(project, data)
    bindings = cleaned.pop("table_bindings", None)
    sync = Sync.objects.create(project=project, created_by=actor, updated_by=actor,
                               **{k: v for k, v in cleaned.items()})
    save_bindings(sync, bindings)
    schedule_next(sync)
    if sync.status == Sync.Status.ACTIVE and sync.trigger_mode == Sync.TriggerMode.ON_CREATE:
        trigger(sync, triggered_by=SyncRun.TriggeredBy.ON_CREATE, actor=actor)
    return sync


@transaction.atomic
def update_sync(sync: Sync, data: dict, *, actor: str = "") -> Sync:
    cleaned = validate_sync(sync.project, data, instance=sync)
    bindings = cleaned.pop("table_bindings", None)
    for name, value in cleaned.items():
        setattr(sync, name, value)
    sync.updated_by = actor
    sync.save()
    if bindings is not None or "entities" in cleaned:
        save_bindings(sync, bindings if bindings is not None else [
            {"entity_key": b.entity_key, **{f: getattr(b, f) for f in (
                "logical_table_name", "load_mode", "cursor_field", "primary_key_columns")}}
            for b in sync.table_bindings.all()])
    if "schedule" in cleaned or "trigger_mode" in cleaned or "status" in cleaned:
        schedule_next(sync)
    return sync


def delete_sync(sync: Sync) -> None:
    """Delete a sync that has no runs (the admin's delete). A sync with runs has history: it
    is archived instead (the API's DELETE, or status ``archived``), and its runs are deleted
    only explicitly (the runs admin) before the sync itself can be."""
    with transaction.atomic():
        locked = Sync.objects.select_for_update().filter(pk=sync.pk).first()
        if locked is None:
            return  # deleted meanwhile
        reason = why_sync_kept(locked)
        if reason:
            raise SyncStateError(reason)
        locked.delete()
    SyncState.objects.filter(sync_id=sync.pk).delete()


def why_sync_kept(sync: Sync) -> str | None:
    """Why ``sync`` cannot be deleted (None: it can): a run still active, or runs, its
    history."""
    if sync.runs.filter(status__in=[SyncRun.Status.PENDING, SyncRun.Status.RUNNING]).exists():
        return "A run of this sync is pending or running; cancel it first."
    runs = sync.runs.count()
    if runs:
        return (f"This sync has {runs} run{'s' if runs != 1 else ''}, kept as history: archive "
                "it instead (status archived), or delete its runs explicitly first.")
    return None
