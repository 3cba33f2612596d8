"""A job's outcome, written by the execution that ran it: succeeded, cancelled, failed (back
to pending after a backoff while retries remain), or given back to the queue untouched.

Every write is conditional on the row still being this execution's (``owned``): a worker's
late write after the reaper gave the job to another execution changes nothing, and the write
reports False.
"""

from __future__ import annotations

import random
import traceback
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from jobs import backends
from jobs.models import Job, JobStatus


def owned(job: Job) -> QuerySet[Job]:
    """The row while it is still this execution of ``job``: running on its worker since its
    ``started_at``. A worker's late write after the reaper gave the job to another execution
    (even one of the same worker: another runner's new claim) changes nothing."""
    rows = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, worker_id=job.worker_id)
    return rows if job.started_at is None else rows.filter(started_at=job.started_at)


def mark_succeeded(job: Job, result: Any = None, finished_at: datetime | None = None) -> bool:
    now = timezone.now()
    return bool(owned(job).update(status=JobStatus.SUCCEEDED, progress=100, result=result,
                                  finished_at=finished_at or now, updated_at=now, error=""))


def mark_cancelled(job: Job) -> bool:
    now = timezone.now()
    return bool(owned(job).update(status=JobStatus.CANCELLED, finished_at=now, updated_at=now))


def release(job: Job) -> bool:
    """Give a running job back to the queue untouched (worker shutdown)."""
    now = timezone.now()
    released = bool(owned(job).update(status=JobStatus.PENDING, worker_id="", started_at=None,
                                      heartbeat_at=None, updated_at=now))
    if released:
        backends.dispatch(Job.objects.get(pk=job.pk))
    return released


def release_many(jobs: list[Job], worker_id: str) -> int:
    """Give the jobs ``worker_id`` claimed ahead and has not started back to the queue, as they
    were (no retry charged). A started one is left alone: whichever runner of the worker
    started it runs it (a runner may hold a stale copy of a job its worker claimed again)."""
    if not jobs:
        return 0
    pks = [job.pk for job in jobs]
    released = Job.objects.filter(pk__in=pks, status=JobStatus.RUNNING, worker_id=worker_id,
                                  started_at__isnull=True).update(
        status=JobStatus.PENDING, worker_id="", started_at=None, heartbeat_at=None,
        updated_at=timezone.now())
    if released:
        for job in Job.objects.filter(pk__in=pks, status=JobStatus.PENDING):
            backends.dispatch(job)
    return released


def retry_delay(retry_count: int) -> float:
    """Exponential backoff with jitter: base·2^(n-1), capped, then a random 50–100 %."""
    base = settings.JOBS_RETRY_BASE_SECONDS
    delay = min(settings.JOBS_RETRY_MAX_SECONDS, base * (2 ** max(retry_count - 1, 0)))
    return delay * random.uniform(0.5, 1.0)


def error_details(exc: BaseException | None, reason: str) -> dict:
    """What failed, as the API serves it: ``reason``, and the exception's ``type`` and
    ``message``. Never the traceback (server paths): ``error_traceback`` keeps it for the
    operators (the admin shows it)."""
    details: dict[str, Any] = {"reason": reason}
    if exc is not None:
        details.update({"type": f"{type(exc).__module__}.{type(exc).__qualname__}",
                        "message": str(exc)})
    return details


def error_traceback(exc: BaseException | None) -> str:
    return "".join(traceback.format_exception(exc)) if exc is not None else ""


def mark_failed(job: Job, exc: BaseException | None, reason: str | None = None) -> Job | None:
    """Record a failure: back to pending after a backoff while retries remain, else failed."""
    if reason is None:
        reason = f"{type(exc).__name__}: {exc}" if exc is not None else "failed"
    reason = reason[:500]
    now = timezone.now()
    error = dict(error=reason, error_details=error_details(exc, reason),
                 error_traceback=error_traceback(exc))
    retry_count = job.retry_count + 1
    if job.retry_count < job.max_retries:
        updated = owned(job).update(
            status=JobStatus.PENDING, retry_count=retry_count, worker_id="", heartbeat_at=None,
            updated_at=now, scheduled_at=now + timedelta(seconds=retry_delay(retry_count)),
            **error)
    else:
        updated = owned(job).update(status=JobStatus.FAILED, finished_at=now, updated_at=now,
                                    **error)
    if not updated:
        return None
    job = Job.objects.get(pk=job.pk)
    if job.status == JobStatus.PENDING:
        backends.dispatch(job)
    return job
