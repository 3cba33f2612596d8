"""Writes and business rules of the job queue: enqueue, claim, finish, retry with backoff,
signals (cancel / retry / run_now), delete, and reaping of stalled jobs."""

from __future__ import annotations

import logging
import random
import traceback
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from jobs import backends
from jobs.models import ACTIVE_STATUSES, Job, JobStatus
from jobs.registry import get_handler
from jobs.signals import job_reaped

logger = logging.getLogger("jobs")

HEARTBEAT_TIMEOUT_REASON = "heartbeat_timeout"
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


# --- claim ---------------------------------------------------------------------------------

def _adapt(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _claim_order(job: Job):
    return (-job.priority, job.scheduled_at, job.created_at, job.pk)


def _claim_sql(worker_id: str, queues: list[str] | None, limit: int,
               now: datetime) -> tuple[str, list[Any]]:
    table = connection.ops.quote_name(Job._meta.db_table)
    params: list[Any] = [JobStatus.RUNNING, _adapt(now), _adapt(now), _adapt(now), worker_id,
                         JobStatus.PENDING, _adapt(now)]
    queue_sql = ""
    if queues:
        queue_sql = f"AND queue IN ({', '.join(['%s'] * len(queues))})"
        params += list(queues)
    params.append(limit)
    select = f"""SELECT id FROM {table}
                WHERE status = %s AND scheduled_at <= %s {queue_sql}
                ORDER BY priority DESC, scheduled_at, created_at, id
                LIMIT %s"""
    if connection.vendor == "postgresql":
        # ARRAY(…) evaluates the locking subquery exactly once (``IN (…)`` may not).
        where = f"id = ANY(ARRAY({select} FOR UPDATE SKIP LOCKED))"
    else:
        where = f"id IN ({select})"
    sql = f"""
        UPDATE {table}
           SET status = %s, started_at = %s, heartbeat_at = %s, updated_at = %s,
               worker_id = %s, cancel_requested_at = NULL
         WHERE {where}
     RETURNING *"""
    return sql, params


def claim(worker_id: str, queues: list[str] | None = None, limit: int = 1) -> list[Job]:
    """Atomically take up to ``limit`` due pending jobs, in claim order (priority, then
    scheduled_at, then age).

    One statement: ``UPDATE … WHERE id = ANY(ARRAY(SELECT … FOR UPDATE SKIP LOCKED))
    RETURNING *``. On PostgreSQL a single statement is atomic by itself, so it runs in
    autocommit (no BEGIN and COMMIT round trips); on SQLite it runs in an IMMEDIATE
    transaction, which holds the database's write lock, so two workers can never take the
    same row.
    """
    sql, params = _claim_sql(worker_id, queues, limit, timezone.now())
    if connection.vendor == "postgresql":
        jobs = list(Job.objects.raw(sql, params))
    else:
        with transaction.atomic():
            jobs = list(Job.objects.raw(sql, params))
    return sorted(jobs, key=_claim_order)


def claim_next(worker_id: str, queues: list[str] | None = None) -> Job | None:
    """Take the next due pending job (see ``claim``)."""
    jobs = claim(worker_id, queues, 1)
    return jobs[0] if jobs else None


def finish_and_claim(worker_id: str, succeeded: list[tuple[Job, Any, datetime]],
                     queues: list[str] | None = None,
                     limit: int = 1) -> tuple[list[Job], set]:
    """Record the successes in ``succeeded`` — (job, result, finished_at) of jobs this worker
    still runs — and claim up to ``limit`` jobs: one round trip on PostgreSQL.

    Returns (the claimed jobs in claim order, the pks recorded as succeeded); a job missing
    from the second was not ours any more (reaped or deleted meanwhile): it is lost.
    """
    if not succeeded or connection.vendor != "postgresql":
        recorded = {job.pk for job, result, finished_at in succeeded
                    if mark_succeeded(job, result, finished_at)}
        return (claim(worker_id, queues, limit) if limit > 0 else []), recorded
    table = connection.ops.quote_name(Job._meta.db_table)
    now = timezone.now()
    values = ", ".join(["(%s::uuid, %s::jsonb, %s::timestamptz)"] * len(succeeded))
    done_params: list[Any] = [JobStatus.SUCCEEDED, _adapt(now)]
    for job, result, finished_at in succeeded:
        done_params += [job.pk, None if result is None else
                        connection.ops.adapt_json_value(result, None), _adapt(finished_at)]
    done_params += [JobStatus.RUNNING, worker_id]
    done_sql = f"""
        UPDATE {table} AS j
           SET status = %s, progress = 100, result = v.result, finished_at = v.finished_at,
               updated_at = %s, error = ''
          FROM (VALUES {values}) AS v(id, result, finished_at)
         WHERE j.id = v.id AND j.status = %s AND j.worker_id = %s
     RETURNING j.id"""
    if limit <= 0:
        with connection.cursor() as cursor:
            cursor.execute(done_sql, done_params)
            return [], {row[0] for row in cursor.fetchall()}
    claim_sql, claim_params = _claim_sql(worker_id, queues, limit, now)
    # Two data-modifying CTEs on disjoint rows (ours are running, the claimed ones pending);
    # the LEFT JOIN yields one row even when nothing is claimed, to carry done_ids.
    rows = list(Job.objects.raw(
        f"WITH done AS ({done_sql}), claimed AS ({claim_sql}) "
        "SELECT claimed.*, ARRAY(SELECT id FROM done) AS done_ids "
        "FROM (SELECT 1) AS one LEFT JOIN claimed ON true", done_params + claim_params))
    recorded = set(rows[0].done_ids) if rows else set()
    return sorted((job for job in rows if job.pk is not None), key=_claim_order), recorded


def claim_by_id(job_id, worker_id: str) -> Job | None:
    """Take one given pending job (the Celery backend's claim); None if it is not pending
    any more (another worker has it, or it was cancelled or deleted)."""
    table = connection.ops.quote_name(Job._meta.db_table)
    now = timezone.now()
    pk = Job._meta.pk.get_db_prep_value(job_id, connection)
    sql = f"""
        UPDATE {table}
           SET status = %s, started_at = %s, heartbeat_at = %s, updated_at = %s,
               worker_id = %s, cancel_requested_at = NULL
         WHERE id = %s AND status = %s
     RETURNING *"""
    params = [JobStatus.RUNNING, _adapt(now), _adapt(now), _adapt(now), worker_id, pk,
              JobStatus.PENDING]
    with transaction.atomic():
        jobs = list(Job.objects.raw(sql, params))
    return jobs[0] if jobs else None


# --- finish --------------------------------------------------------------------------------

def _owned(job: Job):
    return Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, worker_id=job.worker_id)


def mark_succeeded(job: Job, result: Any = None, finished_at: datetime | None = None) -> bool:
    now = timezone.now()
    return bool(_owned(job).update(status=JobStatus.SUCCEEDED, progress=100, result=result,
                                   finished_at=finished_at or now, updated_at=now, error=""))


def mark_cancelled(job: Job) -> bool:
    now = timezone.now()
    return bool(_owned(job).update(status=JobStatus.CANCELLED, finished_at=now, updated_at=now))


def release(job: Job) -> bool:
    """Give a running job back to the queue untouched (worker shutdown)."""
    now = timezone.now()
    released = bool(_owned(job).update(status=JobStatus.PENDING, worker_id="", started_at=None,
                                       heartbeat_at=None, updated_at=now))
    if released:
        backends.dispatch(Job.objects.get(pk=job.pk))
    return released


def release_many(jobs: list[Job], worker_id: str) -> int:
    """Give jobs claimed but not started (a worker's prefetch) back to the queue."""
    if not jobs:
        return 0
    pks = [job.pk for job in jobs]
    released = Job.objects.filter(pk__in=pks, status=JobStatus.RUNNING,
                                  worker_id=worker_id).update(
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
    details: dict[str, Any] = {"reason": reason}
    if exc is not None:
        details.update({
            "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
            "message": str(exc),
            "traceback": "".join(traceback.format_exception(exc)),
        })
    return details


def mark_failed(job: Job, exc: BaseException | None, reason: str | None = None) -> Job | None:
    """Record a failure: back to pending after a backoff while retries remain, else failed."""
    if reason is None:
        reason = f"{type(exc).__name__}: {exc}" if exc is not None else "failed"
    reason = reason[:500]
    now = timezone.now()
    details = error_details(exc, reason)
    retry_count = job.retry_count + 1
    if job.retry_count < job.max_retries:
        updated = _owned(job).update(
            status=JobStatus.PENDING, retry_count=retry_count, error=reason,
            error_details=details, worker_id="", heartbeat_at=None, updated_at=now,
            scheduled_at=now + timedelta(seconds=retry_delay(retry_count)))
    else:
        updated = _owned(job).update(status=JobStatus.FAILED, error=reason,
                                     error_details=details, finished_at=now, updated_at=now)
    if not updated:
        return None
    job = Job.objects.get(pk=job.pk)
    if job.status == JobStatus.PENDING:
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


# --- reaping -------------------------------------------------------------------------------

def reap_stalled(timeout_seconds: float | None = None) -> list[Job]:
    """Requeue (while retries remain) or fail, with reason ``heartbeat_timeout``, every running
    job whose heartbeat is older than the timeout. Safe to run from many workers at once:
    every change is conditional on the row still being stalled."""
    timeout = timeout_seconds if timeout_seconds is not None \
        else settings.JOBS_HEARTBEAT_TIMEOUT_SECONDS
    cutoff = timezone.now() - timedelta(seconds=timeout)
    reaped = []
    for job in Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff):
        stalled = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING,
                                     heartbeat_at__lt=cutoff, worker_id=job.worker_id)
        now = timezone.now()
        details = {"reason": HEARTBEAT_TIMEOUT_REASON, "worker_id": job.worker_id,
                   "heartbeat_at": job.heartbeat_at.isoformat() if job.heartbeat_at else None}
        if job.retry_count < job.max_retries:
            changed = stalled.update(status=JobStatus.PENDING, retry_count=job.retry_count + 1,
                                     worker_id="", heartbeat_at=None, scheduled_at=now,
                                     error=HEARTBEAT_TIMEOUT_REASON, error_details=details,
                                     updated_at=now)
        else:
            changed = stalled.update(status=JobStatus.FAILED, error=HEARTBEAT_TIMEOUT_REASON,
                                     error_details=details, finished_at=now, updated_at=now)
        if changed:
            job = Job.objects.get(pk=job.pk)
            logger.warning("Reaped stalled job %s (worker %s): now %s", job.pk,
                           details["worker_id"], job.status)
            if job.status == JobStatus.PENDING:
                backends.dispatch(job)
            reaped.append(job)
            job_reaped.send(sender=Job, job=job)
    return reaped
