"""What the API, the admin and the other apps do with jobs: enqueue, signal (cancel / retry /
run_now), delete. Claiming is in ``jobs.claiming``, the outcomes a run writes in
``jobs.outcomes``, reaping in ``jobs.reaping``."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs import backends
from jobs.models import ACTIVE_STATUSES, Job, JobStatus
from jobs.registry import get_handler

DEFAULT_MAX_RETRIES = 3


class JobStateError(Exception):
    """The job's status does not allow the requested transition (the API answers 409)."""


# --- enqueue -------------------------------------------------------------------------------

def enqueue(job_class: str, payload: dict | None = None, *, project=None, priority: int = 0,
            unicity: str | None = None, scheduled_at: datetime | None = None,
            max_retries: int | None = None, queue: str = "default",
            created_by_id: str | None = None) -> Job:
    """Create a pending job and hand it to the configured backend after commit.

    With ``unicity``, at most one pending or running job exists per key: enqueueing a
    duplicate returns the existing job instead of creating another.
    """
    handler = get_handler(job_class)  # unknown names fail here, not in the worker
    if max_retries is None:
        max_retries = handler.max_retries if handler.max_retries is not None \
            else DEFAULT_MAX_RETRIES
    fields = dict(job_class=job_class, payload=payload or {}, project=project,
                  priority=priority, unicity=unicity, max_retries=max_retries, queue=queue,
                  scheduled_at=scheduled_at or timezone.now(), created_by_id=created_by_id)
    if unicity is not None:
        existing = Job.objects.filter(unicity=unicity, status__in=ACTIVE_STATUSES).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                job = Job.objects.create(**fields)
        except IntegrityError:
            existing = Job.objects.filter(unicity=unicity, status__in=ACTIVE_STATUSES).first()
            if existing is None:
                raise
            return existing
    else:
        job = Job.objects.create(**fields)
    backends.dispatch(job)
    return job


# --- signals (the API's POST /jobs/{id}/signal, the admin's actions) -------------------------

SIGNALS = ("cancel", "retry", "run_now")


def cancel(job: Job) -> Job:
    """Pending: cancelled at once. Running: cancel requested; the handler stops cooperatively."""
    now = timezone.now()
    if Job.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
            status=JobStatus.CANCELLED, cancel_requested_at=now, finished_at=now,
            updated_at=now):
        return Job.objects.get(pk=job.pk)
    if Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            cancel_requested_at=now, updated_at=now):
        return Job.objects.get(pk=job.pk)
    raise JobStateError(f"A {_status_of(job)} job cannot be cancelled.")


def retry(job: Job) -> Job:
    """Failed or cancelled: pending again, due now, with a fresh retry budget."""
    now = timezone.now()
    try:
        with transaction.atomic():
            updated = Job.objects.filter(
                pk=job.pk, status__in=[JobStatus.FAILED, JobStatus.CANCELLED]).update(
                status=JobStatus.PENDING, scheduled_at=now, retry_count=0, progress=0,
                started_at=None, finished_at=None, heartbeat_at=None, worker_id="",
                cancel_requested_at=None, updated_at=now)
    except IntegrityError:
        raise JobStateError("Another pending or running job has the same unicity key.") from None
    if not updated:
        raise JobStateError(f"A {_status_of(job)} job cannot be retried; "
                            "only failed or cancelled jobs can.")
    job = Job.objects.get(pk=job.pk)
    backends.dispatch(job)
    return job


def run_now(job: Job) -> Job:
    now = timezone.now()
    if not Job.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
            scheduled_at=now, updated_at=now):
        raise JobStateError(f"A {_status_of(job)} job cannot be run now; only pending jobs can.")
    job = Job.objects.get(pk=job.pk)
    backends.dispatch(job)
    return job


def signal(job: Job, name: str) -> Job:
    return {"cancel": cancel, "retry": retry, "run_now": run_now}[name](job)


def delete(job: Job) -> None:
    deleted, _ = Job.objects.filter(pk=job.pk).exclude(status=JobStatus.RUNNING).delete()
    if not deleted:
        raise JobStateError("A running job cannot be deleted; cancel it first.")


def _status_of(job: Job) -> str:
    status = Job.objects.filter(pk=job.pk).values_list("status", flat=True).first()
    return status or "deleted"
