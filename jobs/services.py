"""Writes and business rules of the job queue: enqueue, claim, finish, retry with backoff,
signals (cancel / retry / run_now), delete, and reaping of stalled jobs."""

from __future__ import annotations

import logging
import random
import traceback
from contextlib import contextmanager
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


# --- claim and start -----------------------------------------------------------------------
#
# A claimed job is ``running`` with its worker's ``worker_id``. It is *started* when its
# ``started_at`` is written, in the statement that runs just before its handler. A job claimed
# ahead (a runner's prefetch) keeps ``started_at`` NULL until then: if its worker dies first,
# the reaper puts it back as it was, without charging a retry (retries count executions, not
# claims). A runner writes its previous job's success in the statement that starts (or
# claims) its next job: one statement per job, and no outcome is left unwritten while another
# job of the runner runs.

def _adapt(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _table() -> str:
    return connection.ops.quote_name(Job._meta.db_table)


def _claim_order(job: Job):
    return (-job.priority, job.scheduled_at, job.created_at, job.pk)


def _run_order(jobs) -> list[Job]:
    """Claimed jobs in the order their runner runs them: the started one first."""
    return sorted(jobs, key=lambda job: (job.started_at is None, _claim_order(job)))


def _pick_sql(queues: list[str] | None, limit: int, now: datetime) -> tuple[str, list[Any]]:
    """The ids of up to ``limit`` due pending jobs, in claim order (priority, then
    scheduled_at, then age); on PostgreSQL locked, skipping the rows another claim holds."""
    params: list[Any] = [JobStatus.PENDING, _adapt(now)]
    queue_sql = ""
    if queues:
        queue_sql = f"AND queue IN ({', '.join(['%s'] * len(queues))})"
        params += list(queues)
    params.append(limit)
    lock = "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    sql = f"""SELECT id FROM {_table()}
               WHERE status = %s AND scheduled_at <= %s {queue_sql}
               ORDER BY priority DESC, scheduled_at, created_at, id
               LIMIT %s {lock}"""
    return sql, params


def _claim_ctes(worker_id: str, queues: list[str] | None, limit: int,
                now: datetime) -> tuple[str, list[Any]]:
    """PostgreSQL: ``picked`` (the ids, evaluated once: ARRAY of a locking subquery in a
    materialized CTE) and ``claimed`` (their rows, running on ``worker_id``; the first id is
    started, the others claimed ahead)."""
    pick_sql, params = _pick_sql(queues, limit, now)
    table = _table()
    params += [JobStatus.RUNNING, _adapt(now), _adapt(now), _adapt(now), worker_id]
    sql = f"""
        picked AS MATERIALIZED (SELECT ARRAY({pick_sql}) AS ids),
        claimed AS (
            UPDATE {table} AS j
               SET status = %s,
                   started_at = CASE WHEN j.id = picked.ids[1] THEN %s::timestamptz END,
                   heartbeat_at = %s, updated_at = %s, worker_id = %s,
                   cancel_requested_at = NULL
              FROM picked
             WHERE j.id = ANY(picked.ids)
         RETURNING j.*)"""
    return sql, params


def _claim_sqlite(worker_id: str, queues: list[str] | None, limit: int,
                  now: datetime) -> list[Job]:
    """SQLite (in an IMMEDIATE transaction, which holds the database's write lock): the ids,
    then their rows; the first is started."""
    pick_sql, params = _pick_sql(queues, limit, now)
    with connection.cursor() as cursor:
        cursor.execute(pick_sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    sql = f"""
        UPDATE {_table()}
           SET status = %s, started_at = CASE WHEN id = %s THEN %s END, heartbeat_at = %s,
               updated_at = %s, worker_id = %s, cancel_requested_at = NULL
         WHERE id IN ({', '.join(['%s'] * len(ids))})
     RETURNING *"""
    return list(Job.objects.raw(sql, [JobStatus.RUNNING, ids[0], _adapt(now), _adapt(now),
                                      _adapt(now), worker_id, *ids]))


def claim(worker_id: str, queues: list[str] | None = None, limit: int = 1) -> list[Job]:
    """Atomically take up to ``limit`` due pending jobs; returns them in run order: the first
    (in claim order) is started, the others are claimed ahead (``started_at`` NULL) until
    ``start`` or ``finish_and_start``.

    PostgreSQL: one statement (``WITH picked AS MATERIALIZED (SELECT ARRAY(SELECT … FOR
    UPDATE SKIP LOCKED)) UPDATE … RETURNING``), atomic by itself, so it runs in autocommit (no
    BEGIN and COMMIT round trips). SQLite: an IMMEDIATE transaction, which holds the
    database's write lock, so two workers can never take the same row.
    """
    if limit <= 0:
        return []
    now = timezone.now()
    if connection.vendor == "postgresql":
        ctes, params = _claim_ctes(worker_id, queues, limit, now)
        jobs = list(Job.objects.raw(f"WITH {ctes} SELECT * FROM claimed", params))
    else:
        with transaction.atomic():
            jobs = _claim_sqlite(worker_id, queues, limit, now)
    return _run_order(jobs)


def claim_next(worker_id: str, queues: list[str] | None = None) -> Job | None:
    """Take and start the next due pending job (see ``claim``)."""
    jobs = claim(worker_id, queues, 1)
    return jobs[0] if jobs else None


Succeeded = tuple[Job, Any, datetime]  # (job, result, finished_at) of a success to write


def _finish_sql(worker_id: str, succeeded: list[Succeeded], start: Job | None,
                now: datetime) -> tuple[str, list]:
    """PostgreSQL, one UPDATE: the ``succeeded`` jobs (executions of ``worker_id`` still
    running, see ``_owned``) marked succeeded and ``start`` (a job it claimed ahead), if any,
    started. Returns rows (id, whether it is the started one, cancel_requested_at).

    The start writes ``started_at`` only: like a heartbeat it leaves ``updated_at`` (set by
    the claim) and every other indexed column alone, so PostgreSQL updates the row in place
    (HOT) without touching the table's indexes."""
    rows, params = [], [_adapt(now), _adapt(now)]
    for job, result, finished_at in succeeded:
        rows.append("(%s::uuid, %s::jsonb, %s::timestamptz, %s::timestamptz, false)")
        params += [job.pk, None if result is None else
                   connection.ops.adapt_json_value(result, None), _adapt(finished_at),
                   job.started_at and _adapt(job.started_at)]
    if start is not None:
        rows.append("(%s::uuid, NULL::jsonb, NULL::timestamptz, NULL::timestamptz, true)")
        params.append(start.pk)
    params += [JobStatus.RUNNING, worker_id]
    sql = f"""
        UPDATE {_table()} AS j
           SET status = CASE WHEN v.start THEN j.status ELSE '{JobStatus.SUCCEEDED.value}' END,
               progress = CASE WHEN v.start THEN j.progress ELSE 100 END,
               result = CASE WHEN v.start THEN j.result ELSE v.result END,
               finished_at = CASE WHEN v.start THEN j.finished_at ELSE v.finished_at END,
               error = CASE WHEN v.start THEN j.error ELSE '' END,
               started_at = CASE WHEN v.start THEN %s ELSE j.started_at END,
               updated_at = CASE WHEN v.start THEN j.updated_at ELSE %s END
          FROM (VALUES {", ".join(rows)}) AS v(id, result, finished_at, started_at, start)
         WHERE j.id = v.id AND j.status = %s AND j.worker_id = %s
           AND CASE WHEN v.start THEN j.started_at IS NULL
                    ELSE v.started_at IS NULL OR j.started_at = v.started_at END
     RETURNING j.id, v.start, j.cancel_requested_at"""
    return sql, params


def _mark_each_succeeded(succeeded: list[Succeeded]) -> set:
    return {job.pk for job, result, finished_at in succeeded
            if mark_succeeded(job, result, finished_at)}


def finish_and_claim(worker_id: str, succeeded: list[Succeeded],
                     queues: list[str] | None = None,
                     limit: int = 1) -> tuple[list[Job], set]:
    """Write the successes in ``succeeded`` — (job, result, finished_at) of jobs this worker
    still runs — and claim up to ``limit`` jobs (see ``claim``: the first is started): one
    statement on PostgreSQL, the successes first elsewhere.

    Returns (the claimed jobs in run order, the pks written as succeeded); a job missing from
    the second was not ours any more (reaped or deleted meanwhile): it is lost.
    """
    if connection.vendor != "postgresql" or not succeeded:
        recorded = _mark_each_succeeded(succeeded)
        return claim(worker_id, queues, limit), recorded
    now = timezone.now()
    done_sql, params = _finish_sql(worker_id, succeeded, None, now)
    if limit <= 0:
        with connection.cursor() as cursor:
            cursor.execute(done_sql, params)
            return [], {row[0] for row in cursor.fetchall()}
    claim_ctes, claim_params = _claim_ctes(worker_id, queues, limit, now)
    # Data-modifying CTEs on disjoint rows (ours are running, the claimed ones pending); the
    # LEFT JOIN yields one row even when nothing is claimed, to carry done_ids.
    rows = list(Job.objects.raw(
        f"WITH done AS ({done_sql}), {claim_ctes} "
        "SELECT claimed.*, ARRAY(SELECT id FROM done) AS done_ids "
        "FROM (SELECT 1) AS one LEFT JOIN claimed ON true", params + claim_params))
    recorded = set(rows[0].done_ids) if rows else set()
    return _run_order(job for job in rows if job.pk is not None), recorded


def finish_and_start(worker_id: str, succeeded: list[Succeeded],
                     job: Job) -> tuple[bool, set]:
    """Write the successes in ``succeeded`` (see ``finish_and_claim``) and start ``job``, a job
    this worker claimed ahead: one statement on PostgreSQL, the successes first elsewhere.

    Returns (whether ``job`` was started — False when it is not ours any more: given back by
    the reaper, or deleted —, the pks written as succeeded). On start, ``job.started_at`` and
    ``job.cancel_requested_at`` (a cancel requested while it waited) are brought up to date.
    """
    now = timezone.now()
    if connection.vendor == "postgresql":
        sql, params = _finish_sql(worker_id, succeeded, job, now)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        recorded = {pk for pk, is_start, _ in rows if not is_start}
        started = [cancel_requested_at for _, is_start, cancel_requested_at in rows if is_start]
        if started:
            job.cancel_requested_at = started[0]
    else:
        with transaction.atomic():
            recorded = _mark_each_succeeded(succeeded)
            ours = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING,
                                      worker_id=worker_id)
            started = ours.filter(started_at__isnull=True).update(started_at=now)
            if started:
                job.cancel_requested_at = ours.values_list("cancel_requested_at",
                                                           flat=True).first()
    if started:
        job.started_at = now
    return bool(started), recorded


def start(job: Job) -> bool:
    """Start ``job``, claimed ahead by its worker (``job.worker_id``); False if it is not
    that worker's any more (see ``finish_and_start``)."""
    return finish_and_start(job.worker_id, [], job)[0]


def claim_by_id(job_id, worker_id: str) -> Job | None:
    """Take and start one given pending job (the Celery backend's claim, the commands that
    run one job); None if it is not pending any more (another worker has it, or it was
    cancelled or deleted)."""
    table = _table()
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
    """The row while it is still this execution of ``job``: running on its worker since its
    ``started_at``. A worker's late write after the reaper gave the job to another execution
    (even one of the same worker: another runner's new claim) changes nothing."""
    owned = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, worker_id=job.worker_id)
    return owned if job.started_at is None else owned.filter(started_at=job.started_at)


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
        updated = _owned(job).update(
            status=JobStatus.PENDING, retry_count=retry_count, worker_id="", heartbeat_at=None,
            updated_at=now, scheduled_at=now + timedelta(seconds=retry_delay(retry_count)),
            **error)
    else:
        updated = _owned(job).update(status=JobStatus.FAILED, finished_at=now, updated_at=now,
                                     **error)
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
    names = ("idle_in_transaction_session_timeout", "lock_timeout")
    nested = connection.in_atomic_block  # SET LOCAL would outlive this block: put it back
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s), current_setting(%s), set_config(%s, %s, "
                       "true), set_config(%s, %s, true)",
                       [*names, names[0], limit, names[1], limit])
        before = cursor.fetchone()[:2]
        yield  # (on an error, the savepoint's rollback reverts the settings)
        if nested:
            cursor.execute("SELECT set_config(%s, %s, true), set_config(%s, %s, true)",
                           [names[0], before[0], names[1], before[1]])


def reap_as_the_only_reaper(timeout_seconds: float | None = None) -> list[Job] | None:
    """``reap_stalled`` by one process at a time (the native workers' janitors, the Celery
    ``jobs.reap`` task): on PostgreSQL, under a transaction-level advisory lock, in a
    ``janitor_transaction`` (a reaper frozen with the lock does not keep the others out for
    long); None when another process holds it."""
    if connection.vendor != "postgresql":
        return reap_stalled(timeout_seconds)
    with janitor_transaction(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [REAPER_LOCK_KEY])
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
