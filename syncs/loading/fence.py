"""Cursor checkpoints and the fence that keeps a stale attempt from committing.

An entity's checkpoint row (``SyncState``) is owned by one attempt at a time. An attempt takes
it with its fencing token (``SyncRun.fence_token``, which grows with every attempt of a sync)
and every batch transaction then moves it with a compare-and-set on ``epoch = token`` and
``cursor = the value this attempt last committed``. A worker that stalled past its heartbeat
while a newer attempt took the row over finds its UPDATE matching nothing: it raises
``StaleAttempt``, its transaction rolls back with the rows it wrote, and it stops.

The fence lives on the checkpoint row because that is where the batch commits: with
``WAREHOUSE_DATABASE_URL`` set, rows and checkpoints commit in the warehouse database while the
run rows live in the main one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from jobs.context import JobLost
from syncs.models import SyncState, TableBinding


class StaleAttempt(JobLost):
    """A newer attempt owns the run or the checkpoint: stop without committing anything."""


@dataclass
class CheckpointLease:
    """One attempt's hold on one checkpoint row (an entity, or a window of it)."""

    using: str
    state_id: int
    entity_key: str
    token: int
    cursor: Any  # as found when taken, then as last committed by this attempt

    def _states(self):
        return SyncState.objects.using(self.using).filter(pk=self.state_id, epoch=self.token)

    def advance(self, cursor: Any) -> None:
        """Move the checkpoint to ``cursor``, in the caller's transaction: only if this attempt
        still owns the row and nobody moved it since (compare-and-set)."""
        current = {"cursor__isnull": True} if self.cursor is None else {"cursor": self.cursor}
        if not self._states().filter(**current).update(cursor=cursor,
                                                       updated_at=timezone.now()):
            raise self._stale()
        self.cursor = cursor

    def commit(self, cursor: Any) -> None:
        """``advance`` in a transaction of its own (a window or an entity read to its end)."""
        with transaction.atomic(using=self.using):
            bound_idle_transaction(self.using)
            self.advance(cursor)

    def confirm(self) -> None:
        """Check, in the caller's transaction and holding the row's lock until it ends, that
        this attempt still owns the row (batches that do not move the cursor: replace)."""
        if not self._states().update(updated_at=timezone.now()):
            raise self._stale()

    def _stale(self) -> StaleAttempt:
        state = SyncState.objects.using(self.using).filter(pk=self.state_id).values(
            "epoch", "run_id").first() or {}
        return StaleAttempt(
            f"The checkpoint of {self.entity_key!r} belongs to a newer attempt "
            f"(token {state.get('epoch')} of run {state.get('run_id')}; ours is {self.token}): "
            "this attempt stops without committing.")


def take(binding: TableBinding, token: int, run_id: Any, state_key: str | None = None,
         *, using: str | None = None) -> CheckpointLease:
    """Take the checkpoint row of ``binding`` (or of its window ``state_key``) for the attempt
    with fencing ``token``; from now on an older attempt's batches fail. Raises
    ``StaleAttempt`` when a newer attempt holds it already."""
    using = using or settings.WAREHOUSE_DATABASE_ALIAS
    states = SyncState.objects.using(using)
    entity = {"sync_id": binding.sync_id, "entity_key": state_key or binding.entity_key,
              "source_instance_key": binding.source_instance_key}
    with transaction.atomic(using=using):
        bound_idle_transaction(using)
        state, _ = states.get_or_create(**entity)
        taken = states.filter(pk=state.pk, epoch__lte=token).update(
            epoch=token, run_id=run_id, updated_at=timezone.now())
        lease = CheckpointLease(using, state.pk, entity["entity_key"], token, None)
        if not taken:
            raise lease._stale()
        # Read under the row lock the UPDATE holds: the value the last owner committed.
        lease.cursor = states.filter(pk=state.pk).values_list("cursor", flat=True).get()
    return lease


def read_checkpoint(binding: TableBinding, state_key: str | None = None) -> Any:
    state = SyncState.objects.using(settings.WAREHOUSE_DATABASE_ALIAS).filter(
        sync_id=binding.sync_id, entity_key=state_key or binding.entity_key,
        source_instance_key=binding.source_instance_key).first()
    return state.cursor if state else None


def bound_idle_transaction(using: str) -> None:
    """PostgreSQL: have the server end the current transaction if its session idles inside it
    longer than ``SYNCS_STALLED_TRANSACTION_TIMEOUT_SECONDS`` — a worker stopped (SIGSTOP, a
    frozen VM) mid-batch then releases its locks, so the next attempt and the reaper never
    wait on it for longer than that. The stalled worker's connection is closed by the server;
    when it wakes, its next statement fails and nothing of the batch is committed."""
    connection = connections[using]
    seconds = settings.SYNCS_STALLED_TRANSACTION_TIMEOUT_SECONDS
    if connection.vendor != "postgresql" or not seconds:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('idle_in_transaction_session_timeout', %s, true)",
                       [f"{int(seconds * 1000)}"])
