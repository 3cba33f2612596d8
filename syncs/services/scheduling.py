"""Scheduled syncs: the next slot set on every change, and the scheduler's pass that triggers
each due slot exactly once."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from syncs.models import Sync, SyncRun
from syncs.services.cron import ScheduleError, slot_after
from syncs.services.errors import SyncStateError, attribute_error
from syncs.services.periodic import (
    SCHEDULE_JOB,
    describe_problem,
    mark_sync_error,
    periodic_item_failed,
)
from syncs.services.runs import TRIGGERABLE, trigger

logger = logging.getLogger("syncs")


def schedule_next(sync: Sync) -> None:
    """Set the next cron slot of a scheduled sync (None for the others); a schedule that
    cannot be evaluated is a 422 naming the field."""
    if sync.trigger_mode == Sync.TriggerMode.SCHEDULED and isinstance(sync.schedule, dict) \
            and sync.schedule.get("cron"):
        try:
            next_run = slot_after(sync.schedule, timezone.now())
        except ScheduleError as exc:
            raise attribute_error("schedule", exc.message, exc.pointer) from None
    else:
        next_run = None
    Sync.objects.filter(pk=sync.pk).update(next_run_at=next_run)
    sync.next_run_at = next_run


def run_due_schedules(now: datetime | None = None) -> list[SyncRun]:
    """Trigger every scheduled sync whose slot has come, exactly once per slot: the slot is
    claimed by a conditional UPDATE, so concurrent schedulers cannot both win it.

    Each sync is evaluated on its own, whatever project it belongs to: one that cannot be (a
    stored schedule or execution_config that is bad, a trigger that raises) is put in
    ``error`` with the reason in ``last_error``, logged and counted
    (``syncs_schedule_errors_total{reason}``); its slot is consumed all the same (moved to
    the next one, or cleared when the schedule itself cannot be evaluated: a fixed schedule
    sets it again), so it is not retried in a loop; and the pass goes on with the others."""
    now = now or timezone.now()
    triggered = []
    due = Sync.objects.filter(trigger_mode=Sync.TriggerMode.SCHEDULED,
                              status__in=TRIGGERABLE, next_run_at__lte=now)
    for sync in due.select_related("project").order_by("next_run_at", "pk"):
        try:
            run = _run_slot(sync, now)
        except Exception as exc:  # noqa: BLE001 - one sync never stops every project's pass
            _schedule_failed(sync, exc, now)
            continue
        if run is not None:
            triggered.append(run)
    return triggered


def _run_slot(sync: Sync, now: datetime) -> SyncRun | None:
    slot = sync.next_run_at
    following = slot_after(sync.schedule, max(now, slot))
    # Claim and trigger in one transaction: a trigger that raises hands the slot back, for
    # _schedule_failed to consume with the reason.
    with transaction.atomic():
        claimed = Sync.objects.filter(pk=sync.pk, next_run_at=slot).update(
            next_run_at=following)
        if not claimed:
            return None  # another scheduler took this slot
        try:
            return trigger(sync, triggered_by=SyncRun.TriggeredBy.SCHEDULE,
                           trigger_ref=f"schedule:{slot.isoformat()}")
        except SyncStateError as exc:  # e.g. the previous slot's run still going: skipped
            logger.info("Skipped slot %s of %s: %s", slot, sync.slug, exc)
            return None


def _schedule_failed(sync: Sync, exc: Exception, now: datetime) -> None:
    """Mark ``sync`` with why it could not be evaluated and consume its slot (only the
    scheduler whose conditional UPDATE wins reports it)."""
    reason, message = describe_problem(exc, sync)
    slot = sync.next_run_at
    following = None
    if not isinstance(exc, ScheduleError):
        try:
            following = slot_after(sync.schedule, max(now, slot))
        except ScheduleError:
            following = None
    try:
        marked = mark_sync_error(sync, f"Scheduler: {message}", next_run_at=following,
                                 where={"next_run_at": slot})
    except Exception:  # noqa: BLE001 - still reported below; the pass goes on
        logger.exception("Could not mark scheduled sync %s", sync.pk)
        marked = 1
    if marked:
        periodic_item_failed(SCHEDULE_JOB, reason, message, sync=sync,
                             exc_info=exc if reason == "unexpected_error" else None)
