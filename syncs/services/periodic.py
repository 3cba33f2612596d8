"""Periodic work (the scheduler, the stalled-run sweep, auto-resume): one item that cannot be
evaluated never stops a pass; it is described, put on its sync, logged and counted."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Case, F, Value, When
from django.utils import timezone

from syncs.job_classes import SCHEDULE_JOB, SWEEP_JOB  # noqa: F401 - services.*
from syncs.models import Sync
from syncs.services.cron import ScheduleError

logger = logging.getLogger("syncs")



def describe_problem(exc: BaseException, sync: Sync | None = None) -> tuple[str, str]:
    """(reason code, message naming the field at fault) for an error met while evaluating
    ``sync`` in a periodic pass. Reason codes are few and fixed (a metric label)."""
    if isinstance(exc, ScheduleError):
        return exc.reason, exc.message
    pointer = getattr(exc, "pointer", None)
    if isinstance(pointer, str) and pointer.startswith("/data/"):
        field = pointer.removeprefix("/data/attributes/").removeprefix("/data/").replace(
            "/", ".")
        return "invalid_config", f"{field}: {getattr(exc, 'detail', exc)}"
    if sync is not None:
        diagnosed = _stored_config_problem(sync)
        if diagnosed:
            return "invalid_config", diagnosed
    return "unexpected_error", f"{type(exc).__name__}: {exc}"


def _stored_config_problem(sync: Sync) -> str | None:
    """After a trigger raised something that names no field: the stored execution_config
    values a trigger reads, checked as the trigger reads them, to name the culprit."""
    config = sync.execution_config
    if not isinstance(config, dict):
        return f"execution_config must be an object, not {type(config).__name__}."
    attempts = config.get("max_auto_resume_attempts", 2)
    try:
        if isinstance(attempts, bool):
            raise TypeError
        int(attempts)
    except (TypeError, ValueError, OverflowError):
        return f"execution_config.max_auto_resume_attempts: {attempts!r} is not an integer."
    if not isinstance(config.get("queue", "default"), str):
        return f"execution_config.queue: {config.get('queue')!r} is not a queue name."
    return None


def mark_sync_error(sync: Sync, message: str, **changes: Any) -> int:
    """Put the reason on the sync (``last_error``) and move an active sync to ``error``;
    ``changes`` and their conditions (``where``) apply in the same UPDATE."""
    where = changes.pop("where", {})
    return Sync.objects.filter(pk=sync.pk, **where).update(
        last_error=message[:2000], updated_at=timezone.now(),
        status=Case(When(status=Sync.Status.ACTIVE, then=Value(Sync.Status.ERROR)),
                    default=F("status")), **changes)


def periodic_item_failed(task: str, reason: str, message: str, *, sync: Sync | None = None,
                         exc_info: BaseException | None = None, **fields: str) -> None:
    """The log line and metric of an item a periodic pass skipped: ``task`` names the pass
    (``syncs.schedule``, ``syncs.sweep``, ``syncs.auto_resume``)."""
    from syncservice.observability import metrics

    if sync is not None:
        fields = {"sync_id": str(sync.pk), "sync": sync.slug,
                  "project_id": str(sync.project_id), **fields}
    logger.warning("%s skipped %s: %s", task, fields.get("sync", "an item"), message,
                   exc_info=exc_info,
                   extra={"task": task, "reason": reason, "problem": message, **fields})
    try:
        if task == SCHEDULE_JOB:
            metrics.SCHEDULE_ERRORS.labels(reason=reason).inc()
        else:
            metrics.SWEEP_ERRORS.labels(sweep=task, reason=reason).inc()
    except Exception:  # noqa: BLE001 - counting must never stop the pass
        logger.exception("Could not count a %s error", task)
