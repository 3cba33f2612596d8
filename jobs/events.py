"""A job's lifecycle as events (``syncservice.events``), from the queue's signals and the
places that send it signals (the API and the admin).

Only what goes wrong or is asked for is recorded — failed, retried (with the reason), reaped,
cancel requested, cancelled, retried by hand — never ``enqueued``, ``started`` or
``succeeded``: those are one row write each on the queue's hot path (the no-op benchmark), and
the job row already says them (``created_at``, ``started_at``, ``finished_at``). The queue
commits its own state changes (``jobs.services``); these events are recorded right after, by
the thread that made the change, so none reports a change that did not commit.
"""

from __future__ import annotations

from django.conf import settings
from django.dispatch import receiver

from jobs.models import Job, JobStatus
from jobs.periodic import periodic_job
from jobs.registry import job_handler
from jobs.signals import job_finished, job_reaped
from syncservice.events import services as events
from syncservice.events.models import EventKind

_NOT_RECORDED = frozenset({JobStatus.SUCCEEDED, "lost", "error"})


@receiver(job_finished, dispatch_uid="events.job_finished")
def record_outcome(sender, job: Job, status: str, **kwargs) -> None:
    if status in _NOT_RECORDED:  # the hot path: no query
        return
    if status == JobStatus.CANCELLED:
        events.record_for(job, EventKind.CANCELLED, {"reason": "cancel requested"})
        return
    row = Job.objects.filter(pk=job.pk).values(
        "status", "error", "retry_count", "max_retries", "scheduled_at").first()
    if row is None:
        return
    if status == JobStatus.FAILED and row["status"] == JobStatus.FAILED:
        events.record_for(job, EventKind.FAILED, {
            "reason": row["error"] or "failed", "retry_count": row["retry_count"],
            "max_retries": row["max_retries"]})
    elif status == JobStatus.PENDING and row["status"] == JobStatus.PENDING \
            and row["retry_count"] > job.retry_count:
        # (A job given back at shutdown is pending too, with its retry count unchanged.)
        events.record_for(job, EventKind.RETRIED, {
            "reason": row["error"] or "failed", "retry_count": row["retry_count"],
            "scheduled_at": row["scheduled_at"].isoformat()})


@receiver(job_reaped, dispatch_uid="events.job_reaped")
def record_reaped(sender, job: Job, **kwargs) -> None:
    details = job.error_details or {}
    events.record_for(job, EventKind.REAPED, {
        "reason": job.error or "heartbeat_timeout", "status": job.status,
        "worker_id": str(details.get("worker_id") or ""),
        "heartbeat_at": details.get("heartbeat_at"), "retry_count": job.retry_count})


def signalled(job: Job, name: str, actor: str | None = None) -> None:
    """After ``services.signal(job, name)`` succeeded (``job``: the row it returned)."""
    if name == "cancel":
        requested = job.status == JobStatus.RUNNING
        events.record_for(job, EventKind.CANCEL_REQUESTED if requested
                          else EventKind.CANCELLED, {"reason": "cancelled", "actor": actor})
    elif name == "retry":
        events.record_for(job, EventKind.RETRIED, {"reason": "retried by hand", "manual": True,
                                                   "actor": actor})


# --- bounded size: the prune job -----------------------------------------------------------

PRUNE_JOB = "events.prune"


@job_handler(PRUNE_JOB, max_retries=0)
def prune(ctx, payload: dict) -> dict:
    """Delete events past EVENTS_RETENTION_DAYS and beyond EVENTS_MAX_PER_SUBJECT per subject
    (of every app: the table is shared), a batch per transaction."""
    return events.prune_events()


periodic_job(PRUNE_JOB, every_seconds=settings.EVENTS_PRUNE_EVERY_SECONDS)
