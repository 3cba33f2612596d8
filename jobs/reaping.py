"""Reaping: the running jobs whose worker stopped heartbeating (it died, hangs, or its host
is paused) go back to the queue, charged a retry when their handler had started; and the
janitor transaction the workers' bookkeeping runs in."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from jobs import backends, queries
from jobs.models import Job, JobStatus
from jobs.signals import job_reaped

logger = logging.getLogger("jobs")

HEARTBEAT_TIMEOUT_REASON = "heartbeat_timeout"
REAPER_LOCK_KEY = 0x5EED_10B5

@contextmanager
def janitor_transaction():
    """A transaction of the bookkeeping every worker repeats (reaping, periodic jobs) that
    cannot hold the others up: on PostgreSQL, if its process stops inside it (frozen, its host
    paused) the server ends the session after half a heartbeat timeout (at least 1 s:
    idle_in_transaction_session_timeout), and a statement waiting that long for a lock (a
    periodic job inserted by such a transaction) fails (lock_timeout) instead of waiting."""
    if connection.vendor != "postgresql":
        with transaction.atomic():
            yield
        return
    limit = f"{int(1000 * max(1.0, settings.JOBS_HEARTBEAT_TIMEOUT_SECONDS / 2))}ms"
    nested = connection.in_atomic_block  # SET LOCAL would outlive this block: put it back
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(queries.ENTER_JANITOR_TRANSACTION_PG, {"limit": limit})
        idle_in_transaction, lock = cursor.fetchone()[:2]
        yield  # (on an error, the savepoint's rollback reverts the settings)
        if nested:
            cursor.execute(queries.RESTORE_JANITOR_SETTINGS_PG,
                           {"idle_in_transaction": idle_in_transaction, "lock": lock})


def reap_as_the_only_reaper(timeout_seconds: float | None = None) -> list[Job] | None:
    """``reap_stalled`` by one process at a time (the native workers' janitors, the Celery
    ``jobs.reap`` task): on PostgreSQL, under a transaction-level advisory lock, in a
    ``janitor_transaction`` (a reaper frozen with the lock does not keep the others out for
    long); None when another process holds it."""
    if connection.vendor != "postgresql":
        return reap_stalled(timeout_seconds)
    with janitor_transaction(), connection.cursor() as cursor:
        cursor.execute(queries.TRY_REAPER_LOCK_PG, {"key": REAPER_LOCK_KEY})
        if not cursor.fetchone()[0]:
            return None
        return reap_stalled(timeout_seconds)


def reap_stalled(timeout_seconds: float | None = None) -> list[Job]:
    """Give back the running jobs whose heartbeat is older than the timeout (their worker died
    or hangs); returns them as they are now. Safe to run from many workers at once: every
    change is conditional on the row still being stalled.

    - A job that was executing (``started_at`` set) is charged: requeued with
      ``retry_count + 1`` while retries remain, else failed; reason ``heartbeat_timeout``
      either way, and ``job_reaped`` is sent.
    - A job claimed ahead but never started (``started_at`` NULL) goes back to pending as it
      was: no retry charged (retries count executions, not claims), its error fields
      untouched, no ``job_reaped``.

    Each job is reaped on its own (a savepoint each): one that cannot be (bad stored data, a
    ``job_reaped`` receiver failing) is logged and skipped; the others are still reaped.
    """
    timeout = timeout_seconds if timeout_seconds is not None \
        else settings.JOBS_HEARTBEAT_TIMEOUT_SECONDS
    cutoff = timezone.now() - timedelta(seconds=timeout)
    reaped = []
    # Only the ids here: a row whose other columns cannot be read must not stop the pass.
    for pk in list(Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff)
                   .values_list("pk", flat=True)):
        try:
            job = _reap_one(pk, cutoff)
        except Exception:  # noqa: BLE001 - one bad row must not keep the others stalled
            logger.exception("Could not reap stalled job %s; skipped", pk)
            continue
        if job is not None:
            reaped.append(job)
    return reaped


def _reap_one(pk, cutoff: datetime) -> Job | None:
    with transaction.atomic():  # a savepoint within the caller's transaction, if any
        row = Job.objects.filter(pk=pk, status=JobStatus.RUNNING, heartbeat_at__lt=cutoff) \
            .values("worker_id", "heartbeat_at", "started_at", "retry_count",
                    "max_retries").first()
        if row is None:
            return None  # finished or beaten since the scan
        stalled = Job.objects.filter(pk=pk, status=JobStatus.RUNNING, heartbeat_at__lt=cutoff,
                                     worker_id=row["worker_id"])
        now = timezone.now()
        executed = row["started_at"] is not None
        if not executed:
            changed = stalled.filter(started_at__isnull=True).update(
                status=JobStatus.PENDING, worker_id="", heartbeat_at=None, updated_at=now)
        else:
            details = {"reason": HEARTBEAT_TIMEOUT_REASON, "worker_id": row["worker_id"],
                       "heartbeat_at": row["heartbeat_at"].isoformat()}
            error = dict(error=HEARTBEAT_TIMEOUT_REASON, error_details=details,
                         error_traceback="")
            stalled = stalled.filter(started_at__isnull=False)
            if row["retry_count"] < row["max_retries"]:
                changed = stalled.update(status=JobStatus.PENDING,
                                         retry_count=row["retry_count"] + 1, worker_id="",
                                         heartbeat_at=None, scheduled_at=now, updated_at=now,
                                         **error)
            else:
                changed = stalled.update(status=JobStatus.FAILED, finished_at=now,
                                         updated_at=now, **error)
        if not changed:
            return None
        job = Job.objects.get(pk=pk)
        if job.status == JobStatus.PENDING:
            backends.dispatch(job)
    if not executed:
        logger.warning("Job %s was claimed by worker %s, which stopped before starting it: "
                       "pending again, no retry charged", pk, row["worker_id"])
        return job
    logger.warning("Reaped stalled job %s (worker %s): now %s", pk, row["worker_id"],
                   job.status)
    try:
        # A savepoint: a receiver's failed query must not break the caller's transaction.
        with transaction.atomic():
            for receiver, response in job_reaped.send_robust(sender=Job, job=job):
                if isinstance(response, Exception):
                    logger.error("job_reaped receiver %r failed for job %s: %r", receiver, pk,
                                 response)
    except Exception:  # noqa: BLE001 - the job is reaped; only its receivers' work is undone
        logger.exception("job_reaped receivers of job %s failed", pk)
    return job
