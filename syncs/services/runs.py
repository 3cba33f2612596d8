"""Runs: triggered (one active run per sync, its job enqueued), cancelled, retried as a next
attempt, and the sync's status kept in step with their outcome."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs import services as job_services
from jobs.models import ACTIVE_STATUSES as ACTIVE_JOB_STATUSES
from jobs.models import Job
from syncs import events as run_events
from syncs import schemas as sync_schemas
from syncs.job_classes import RUN_JOB, TASK_JOB  # noqa: F401 - services.*
from syncs.models import Sync, SyncRun
from syncs.services.errors import SyncStateError

TRIGGERABLE = (Sync.Status.ACTIVE, Sync.Status.ERROR)


def trigger(sync: Sync, run_mode: str = SyncRun.RunMode.INCREMENTAL, *,
            triggered_by: str = SyncRun.TriggeredBy.MANUAL, trigger_ref: str = "",
            previous: SyncRun | None = None, actor: str = "") -> SyncRun:
    """Create a pending run and its job. One active run per sync (409 otherwise); only
    active syncs (or syncs in error, to recover) run."""
    if sync.status not in TRIGGERABLE:
        article = "An" if sync.status[:1] in "aeiou" else "A"
        raise SyncStateError(f"{article} {sync.status} sync cannot be triggered; "
                             "activate it first.")
    root = (previous.attempt_root_run_id or previous.pk) if previous else None
    # A stored execution_config that fails today's schema (written before it, or by hand) is
    # a 409 naming the field, never a crash here or in the run.
    execution = sync_schemas.execution_config(sync)
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                project_id=sync.project_id, sync=sync, run_mode=run_mode,
                triggered_by=triggered_by, trigger_ref=trigger_ref,
                execution_backend=sync.execution_backend, execution_mode=sync.execution_mode,
                attempt_number=previous.attempt_number + 1 if previous else 1,
                attempt_root_run_id=root, previous_attempt_run=previous,
                max_auto_resume_attempts=execution["max_auto_resume_attempts"],
                summary=_initial_summary(sync))
            if previous is not None:
                SyncRun.objects.filter(pk=previous.pk).update(next_attempt_run=run)
            run.job = job_services.enqueue(RUN_JOB, {"run_id": str(run.pk)},
                                           project=sync.project, unicity=f"sync-run:{run.pk}",
                                           max_retries=0, created_by_id=actor or None,
                                           queue=execution["queue"])
            run.save(update_fields=["job"])
            run_events.created(run, actor=actor, previous=previous)
    except IntegrityError:
        raise SyncStateError("A run of this sync is already pending or running.") from None
    return run


def _initial_summary(sync: Sync) -> dict:
    return {"entities": {e: {"status": "pending", "rows_read": 0, "rows_written": 0}
                         for e in sync.entities},
            "rows_read": 0, "rows_written": 0}


def cancel_run(run: SyncRun, *, reason: str = "", actor: str = "") -> SyncRun:
    """Pending: cancelled at once. Running: cancel requested; the run stops at its next batch."""
    now = timezone.now()
    with transaction.atomic():
        cancelled = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.PENDING).update(
            status=SyncRun.Status.CANCELLED, result_class=SyncRun.ResultClass.CANCELLED,
            result_reason_code="cancelled", cancel_requested_at=now, cancel_requested_by=actor,
            cancel_reason=reason, completed_at=now, updated_at=now)
        if cancelled:
            run_events.cancelled(run, reason=reason, actor=actor)
    if cancelled:
        cancel_jobs(run)
        return SyncRun.objects.get(pk=run.pk)
    with transaction.atomic():
        requested = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
            cancel_requested_at=now, cancel_requested_by=actor, cancel_reason=reason,
            updated_at=now)
        if requested:
            run_events.cancelled(run, reason=reason, actor=actor, requested=True)
    if requested:
        cancel_jobs(run)
        return SyncRun.objects.get(pk=run.pk)
    raise SyncStateError(f"A {SyncRun.objects.get(pk=run.pk).status} run cannot be cancelled.")


def cancel_jobs(run: SyncRun) -> None:
    jobs = Job.objects.filter(unicity__startswith=f"sync-run:{run.pk}",
                              status__in=ACTIVE_JOB_STATUSES)
    for job in jobs:
        try:
            job_services.cancel(job)
        except job_services.JobStateError:
            pass  # finished in the meantime


def retry_run(run: SyncRun, run_mode: str | None = None, *, actor: str = "") -> SyncRun:
    if run.status not in (SyncRun.Status.FAILED, SyncRun.Status.CANCELLED):
        raise SyncStateError(f"A {run.status} run cannot be retried; only failed or cancelled "
                             "runs can.")
    if run.next_attempt_run_id is not None:
        raise SyncStateError("This run was already retried; retry its latest attempt.")
    return trigger(run.sync, run_mode or run.run_mode, triggered_by=SyncRun.TriggeredBy.RETRY,
                   previous=run, actor=actor, trigger_ref=f"retry:{run.pk}")


def record_outcome(run: SyncRun) -> None:
    """Keep the sync's status, last_success_at and last_error in step with its runs."""
    sync = run.sync
    if run.status == SyncRun.Status.SUCCEEDED:
        Sync.objects.filter(pk=sync.pk).update(
            last_success_at=run.completed_at, last_error="",
            status=Sync.Status.ACTIVE if sync.status == Sync.Status.ERROR else sync.status)
    elif run.status == SyncRun.Status.FAILED:
        Sync.objects.filter(pk=sync.pk).update(
            last_error=run.error[:2000],
            status=Sync.Status.ERROR if sync.status == Sync.Status.ACTIVE else sync.status)
