"""Experimental copies of ``jobs.services.claim_next`` / ``mark_succeeded`` and
``jobs.worker.execute`` / ``Worker._claim_loop`` as they were before commit 4a77959, switched
by flags, to measure what each change to ``jobs/`` gains on its own (``fast`` is, in
substance, what landed then). Nothing in ``jobs/`` is modified. They keep that time's delivery
semantics: ``fused`` holds a short job's success back until the runner's next claim, which
the worker no longer does (a job's outcome is committed before its runner starts another
job, see ``queue_throughput.md``).

    python benchmarks/_variants.py FLAGS [--concurrency N] [--burst]

``FLAGS`` is a ``+``-joined set (``copy`` = none: must behave like ``run_worker``):

``keepconn``   ``close_old_connections()`` (which makes the next query a ``SELECT 1`` health
               check when ``CONN_HEALTH_CHECKS``) only after an idle wait or once a second,
               not before every claim.
``autocommit`` the claim is one ``UPDATE … RETURNING`` statement: on PostgreSQL it needs no
               ``transaction.atomic()`` (saves the ``BEGIN`` and ``COMMIT`` round trips).
``nocancelq``  no ``SELECT`` for a cancel request before the handler starts: the claim has
               just set ``cancel_requested_at = NULL``; later requests still reach the job
               through the heartbeat relay and the handler's ``progress``/``heartbeat``.
``raw``        ``mark_succeeded`` as one prepared-once SQL string (no ORM compile per job).
``batchK``     claim up to K jobs per statement (e.g. ``batch4``), run them in turn.
``fused``      record a short job's success in the same statement as the next claim
               (``WITH done AS (UPDATE …), claimed AS (UPDATE …) SELECT …``).
``ssb``        server-side binding with ``prepare_threshold=1`` (auto-prepared statements).
``quiet``      no per-job log lines: the ``jobs`` loggers at WARNING (``run_worker`` sets
               INFO), so neither "Job … -> succeeded" nor the ``jobs.lifecycle`` "job
               started" / "job finished" lines are written: what per-job logging costs.

Flags ``claimidx``, ``redundantidx`` and ``leanidx`` change the benchmark database, not the
worker: ``queue_throughput.py`` applies them around the run; they are ignored here.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syncservice.settings")

import django  # noqa: E402

django.setup()

from django.db import close_old_connections, connection, connections, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from jobs import backends, services  # noqa: E402
from jobs.context import JobCancelled, JobContext, JobLost, WorkerShuttingDown  # noqa: E402
from jobs.models import Job, JobStatus  # noqa: E402
from jobs.registry import UnknownJobClass, get_handler  # noqa: E402
from jobs.worker import Worker  # noqa: E402

try:  # sent around every job by jobs.worker.execute since the observability work
    from jobs.signals import job_finished, job_started  # noqa: E402
except ImportError:  # pragma: no cover - an older checkout
    job_started = job_finished = None

logger = logging.getLogger("jobs.worker")

CODE_FLAGS = {"copy", "keepconn", "autocommit", "nocancelq", "raw", "fused", "ssb", "quiet"}
DB_FLAGS = {"claimidx", "redundantidx", "leanidx"}
SHORT_JOB_SECONDS = 0.05  # a success is only held back for the next claim if this short
DEFERRED = "deferred"     # execute_v: succeeded, to be recorded with the next claim


def parse_flags(text: str) -> tuple[frozenset[str], int]:
    flags, batch = set(), 1
    for flag in filter(None, text.split("+")):
        if flag.startswith("batch") and flag[5:].isdigit():
            batch = int(flag[5:])
        elif flag in CODE_FLAGS or flag in DB_FLAGS:
            flags.add(flag)
        else:
            raise SystemExit(f"unknown variant flag {flag!r}")
    return frozenset(flags), batch


# --- SQL (copies of jobs.services with the proposed changes) ---------------------------------

TABLE = Job._meta.db_table
ORDER = "ORDER BY priority DESC, scheduled_at, created_at, id"


def _adapt(value):
    return connection.ops.adapt_datetimefield_value(value)


def _claim_sql(worker_id: str, queues: list[str] | None, limit: int, now) -> tuple[str, list]:
    """The claim as an ``UPDATE`` of up to ``limit`` rows: ``id = ANY(ARRAY(subquery))`` runs
    the locking subquery exactly once (``id IN (…)`` may not)."""
    params: list[Any] = [JobStatus.RUNNING, _adapt(now), _adapt(now), _adapt(now), worker_id,
                         JobStatus.PENDING, _adapt(now)]
    queue_sql = ""
    if queues:
        queue_sql = f"AND queue IN ({', '.join(['%s'] * len(queues))})"
        params += list(queues)
    params.append(limit)
    sql = f"""
        UPDATE {TABLE}
           SET status = %s, started_at = %s, heartbeat_at = %s, updated_at = %s,
               worker_id = %s, cancel_requested_at = NULL
         WHERE id = ANY(ARRAY(
               SELECT id FROM {TABLE}
                WHERE status = %s AND scheduled_at <= %s {queue_sql}
                {ORDER} LIMIT %s FOR UPDATE SKIP LOCKED))
     RETURNING *"""
    return sql, params


def _done_sql(worker_id: str, finished: list[tuple[Job, Any, Any]], now) -> tuple[str, list]:
    """Mark several of our running jobs succeeded: ``finished`` is (job, result, finished_at)."""
    values = ", ".join(["(%s::uuid, %s::jsonb, %s::timestamptz)"] * len(finished))
    params: list[Any] = [JobStatus.SUCCEEDED, _adapt(now)]
    for job, result, finished_at in finished:
        params += [str(job.pk), None if result is None else
                   connection.ops.adapt_json_value(result, None), _adapt(finished_at)]
    params += [JobStatus.RUNNING, worker_id]
    sql = f"""
        UPDATE {TABLE} AS j
           SET status = %s, progress = 100, result = v.result, finished_at = v.finished_at,
               updated_at = %s, error = ''
          FROM (VALUES {values}) AS v(id, result, finished_at)
         WHERE j.id = v.id AND j.status = %s AND j.worker_id = %s
     RETURNING j.id"""
    return sql, params


def _sort(jobs: list[Job]) -> list[Job]:
    return sorted(jobs, key=lambda job: (-job.priority, job.scheduled_at, job.created_at, job.pk))


def claim_v(worker_id: str, queues: list[str] | None, limit: int,
            flags: frozenset[str]) -> list[Job]:
    """``services.claim_next`` for up to ``limit`` jobs; ``autocommit``: no transaction."""
    sql, params = _claim_sql(worker_id, queues, limit, timezone.now())
    if "autocommit" in flags and connection.vendor == "postgresql":
        return _sort(list(Job.objects.raw(sql, params)))
    with transaction.atomic():
        return _sort(list(Job.objects.raw(sql, params)))


def finish_and_claim(worker_id: str, queues: list[str] | None, limit: int,
                     finished: list[tuple[Job, Any, Any]]) -> tuple[list[Job], set]:
    """One statement: record ``finished`` successes and claim up to ``limit`` jobs. Returns
    (claimed jobs, pks recorded). The two data-modifying CTEs touch disjoint rows (ours are
    running, the claimed ones pending), and a single statement is atomic in autocommit."""
    now = timezone.now()
    if not finished:
        return claim_v(worker_id, queues, limit, frozenset({"autocommit"})), set()
    done_sql, done_params = _done_sql(worker_id, finished, now)
    if limit <= 0:
        with connection.cursor() as cursor:
            cursor.execute(done_sql, done_params)
            return [], {row[0] for row in cursor.fetchall()}
    claim_sql, claim_params = _claim_sql(worker_id, queues, limit, now)
    sql = (f"WITH done AS ({done_sql}), claimed AS ({claim_sql}) "
           "SELECT claimed.*, ARRAY(SELECT id FROM done) AS done_ids "
           "FROM (SELECT 1) AS one LEFT JOIN claimed ON true")
    rows = list(Job.objects.raw(sql, done_params + claim_params))
    recorded = set(rows[0].done_ids) if rows else set()
    return _sort([job for job in rows if job.pk is not None]), recorded


_SUCCEEDED_SQL = f"""
    UPDATE {TABLE}
       SET status = %s, progress = 100, result = %s, finished_at = %s, updated_at = %s,
           error = ''
     WHERE id = %s AND status = %s AND worker_id = %s"""


def mark_succeeded_raw(job: Job, result: Any = None) -> bool:
    """``services.mark_succeeded`` as one fixed SQL string: no queryset compiled per job."""
    now = _adapt(timezone.now())
    json = None if result is None else connection.ops.adapt_json_value(result, None)
    with connection.cursor() as cursor:
        cursor.execute(_SUCCEEDED_SQL, [JobStatus.SUCCEEDED, json, now, now, job.pk,
                                        JobStatus.RUNNING, job.worker_id])
        return cursor.rowcount == 1


def release_many(jobs: list[Job], worker_id: str) -> None:
    """Give claimed-but-not-started jobs back (stop requested while holding a batch)."""
    if not jobs:
        return
    Job.objects.filter(pk__in=[job.pk for job in jobs], status=JobStatus.RUNNING,
                       worker_id=worker_id).update(
        status=JobStatus.PENDING, worker_id="", started_at=None, heartbeat_at=None,
        updated_at=timezone.now())
    backends.dispatch(jobs[0])


# --- execute (copy of jobs.worker.execute) -------------------------------------------------

def execute_v(job: Job, worker_id: str, shutdown: threading.Event | None, contexts: dict,
              flags: frozenset[str], may_defer: bool) -> tuple[str, Any]:
    """``jobs.worker.execute`` with the flags: the same signals around the same outcomes."""
    if job_started is None:
        return _execute_v(job, worker_id, shutdown, contexts, flags, may_defer)
    began, status = time.monotonic(), "error"
    job_started.send_robust(sender=Job, job=job, worker_id=worker_id)
    try:
        status, result = _execute_v(job, worker_id, shutdown, contexts, flags, may_defer)
        return status, result
    finally:
        job_finished.send_robust(sender=Job, job=job, worker_id=worker_id,
                                 status=JobStatus.SUCCEEDED if status == DEFERRED else status,
                                 duration=time.monotonic() - began)


def _execute_v(job: Job, worker_id: str, shutdown: threading.Event | None, contexts: dict,
               flags: frozenset[str], may_defer: bool) -> tuple[str, Any]:
    ctx = JobContext(job, worker_id, shutdown)
    contexts[job.pk] = ctx
    began = time.monotonic()
    try:
        handler = get_handler(job.job_class)
        if "nocancelq" in flags:
            # In memory only: the claim just cleared cancel_requested_at.
            if shutdown is not None and shutdown.is_set():
                raise WorkerShuttingDown()
            if ctx._cancel_seen:
                raise JobCancelled()
        else:
            ctx.raise_if_cancelled()
        result = handler.func(ctx, job.payload)
    except JobCancelled:
        services.mark_cancelled(job)
        return JobStatus.CANCELLED, None
    except WorkerShuttingDown:
        services.release(job)
        return JobStatus.PENDING, None
    except JobLost:
        logger.warning("Job %s was taken from worker %s while running", job.pk, worker_id)
        return "lost", None
    except UnknownJobClass as exc:
        job.max_retries = job.retry_count
        services.mark_failed(job, exc)
        return JobStatus.FAILED, None
    except Exception as exc:  # noqa: BLE001
        logger.exception("Job %s (%s) failed", job.pk, job.job_class)
        after = services.mark_failed(job, exc)
        return (after.status if after else "lost"), None
    finally:
        contexts.pop(job.pk, None)
    if may_defer and time.monotonic() - began < SHORT_JOB_SECONDS:
        return DEFERRED, result
    ok = mark_succeeded_raw(job, result) if "raw" in flags \
        else services.mark_succeeded(job, result)
    return (JobStatus.SUCCEEDED if ok else "lost"), result


# --- the worker ----------------------------------------------------------------------------

class VariantWorker(Worker):
    """The copy of ``Worker`` with the flags. With ``batchK`` a runner claims up to K jobs at
    once, but only while jobs are short: the claim size doubles after a job that took less
    than ``SHORT_JOB_SECONDS`` and falls back to 1 after a longer one; and the keeper gives
    back the claimed-but-not-started jobs of a runner whose current job has run longer than
    ``PREFETCH_HOLD_SECONDS``, so a long job never holds others hostage for more than about
    one heartbeat interval."""

    PREFETCH_HOLD_SECONDS = 1.0

    def __init__(self, *args, flags: frozenset[str], batch: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.flags = flags
        self.batch = batch
        self.held: set = set()  # claimed by us, not yet recorded as finished (heartbeats)
        self.ready: dict[int, deque[Job]] = {}  # per runner: claimed, not started
        self.running_since: dict[int, float] = {}

    def _take(self, index: int) -> Job | None:
        with self._lock:
            ready = self.ready[index]
            if not ready:
                return None
            self.running_since[index] = time.monotonic()
            return ready.popleft()

    def _claim_loop(self, index: int) -> None:
        flags = self.flags
        fused = "fused" in flags
        ready = self.ready.setdefault(index, deque())
        unrecorded: list[tuple[Job, Any, Any]] = []
        last_conn_check = 0.0
        size = 1
        queues = self.queues or None
        try:
            while True:
                job = self._take(index)
                if job is None:
                    if self.stopping.is_set():
                        break
                    if "keepconn" not in flags or time.monotonic() - last_conn_check >= 1.0:
                        close_old_connections()
                        last_conn_check = time.monotonic()
                    if fused:
                        claimed, recorded = finish_and_claim(self.worker_id, queues, size,
                                                             unrecorded)
                        self._recorded(unrecorded, recorded)
                        unrecorded = []
                    else:
                        claimed = claim_v(self.worker_id, queues, size, flags)
                    if not claimed:
                        if self.burst and self._all_idle(index):
                            break
                        self.wake.wait(self.poll_seconds)
                        self.wake.clear()
                        close_old_connections()
                        last_conn_check = time.monotonic()
                        continue
                    with self._lock:
                        ready.extend(claimed)
                        self.held.update(claimed_job.pk for claimed_job in claimed)
                        self.idle.discard(index)
                    continue
                if self.stopping.is_set():
                    self._release_ready(index, job)
                    continue
                began = time.monotonic()
                status, result = execute_v(job, self.worker_id, self.shutdown, self.contexts,
                                           flags, may_defer=fused)
                size = min(self.batch, size * 2) \
                    if time.monotonic() - began < SHORT_JOB_SECONDS else 1
                with self._lock:
                    self.running_since.pop(index, None)
                if status == DEFERRED:
                    unrecorded.append((job, result, timezone.now()))
                else:
                    with self._lock:
                        self.held.discard(job.pk)
                    self._log(job, status)
                with self._lock:
                    self.processed += 1
        finally:
            try:
                if unrecorded:
                    _, recorded = finish_and_claim(self.worker_id, queues, 0, unrecorded)
                    self._recorded(unrecorded, recorded)
                self._release_ready(index)
            finally:
                connections.close_all()

    def _release_ready(self, index: int, *also: Job) -> None:
        with self._lock:
            jobs = list(also) + list(self.ready.get(index, ()))
            self.ready.get(index, deque()).clear()
            self.held.difference_update(job.pk for job in jobs)
        release_many(jobs, self.worker_id)

    def _recorded(self, unrecorded: list, recorded: set) -> None:
        for job, _, _ in unrecorded:
            with self._lock:
                self.held.discard(job.pk)
            self._log(job, JobStatus.SUCCEEDED if job.pk in recorded else "lost")

    def _log(self, job: Job, status: str) -> None:
        logger.info("Job %s (%s) -> %s", job.pk, job.job_class, status)

    def _beat(self) -> None:
        # Jobs queued behind one that runs long go back to the queue for other workers.
        now = time.monotonic()
        for index, since in list(self.running_since.items()):
            if now - since > self.PREFETCH_HOLD_SECONDS and self.ready.get(index):
                try:
                    close_old_connections()
                    self._release_ready(index)
                except Exception:  # noqa: BLE001
                    logger.exception("Releasing prefetched jobs failed")
        # Also beat the claimed-but-not-started jobs and the successes not yet recorded:
        # both are 'running' rows of ours.
        with self._lock:
            extra = set(self.held) - set(self.contexts)
        if extra:
            try:
                close_old_connections()
                Job.objects.filter(pk__in=list(extra), status=JobStatus.RUNNING,
                                   worker_id=self.worker_id).update(heartbeat_at=timezone.now())
            except Exception:  # noqa: BLE001
                logger.exception("Heartbeat failed")
        super()._beat()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("flags")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--burst", action="store_true")
    parser.add_argument("--queue", action="append", default=[], dest="queues")
    args = parser.parse_args()
    flags, batch = parse_flags(args.flags)
    if "ssb" in flags:
        options = connections["default"].settings_dict.setdefault("OPTIONS", {})
        options.update({"server_side_binding": True, "prepare_threshold": 1})
    # As run_worker does (INFO), or without the per-job lines.
    logging.getLogger("jobs").setLevel(logging.WARNING if "quiet" in flags else logging.INFO)
    worker = VariantWorker(queues=args.queues, concurrency=args.concurrency, burst=args.burst,
                           flags=flags, batch=batch)

    def stop(signum, frame):
        worker.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    processed = worker.run()
    print(f"Worker {worker.worker_id} ({args.flags}) processed {processed} job(s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
