"""The native worker: N threads claim and run jobs; one thread heartbeats the running jobs,
relays cancel requests and reaps stalled jobs; on PostgreSQL a listener wakes idle threads
on NOTIFY."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, connections
from django.utils import timezone

from jobs import services
from jobs.backends import NOTIFY_CHANNEL
from jobs.context import JobCancelled, JobContext, JobLost, WorkerShuttingDown
from jobs.models import Job, JobStatus
from jobs.periodic import ensure_periodic_jobs
from jobs.registry import UnknownJobClass, get_handler
from jobs.signals import job_finished, job_started

logger = logging.getLogger("jobs.worker")


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def execute(job: Job, worker_id: str, shutdown: threading.Event | None = None,
            contexts: dict | None = None,
            record_success: Callable[[Job, Any], bool] | None = None) -> str:
    """Run a claimed job's handler and record the outcome; returns the final status.

    Shared by the native worker and the Celery task: the same handler, the same rules.
    Sends ``job_started`` before and ``job_finished`` after, in the thread that runs it.
    ``record_success(job, result)`` replaces ``services.mark_succeeded`` (the native worker
    records short jobs together with its next claim).
    """
    started, status = time.monotonic(), "error"  # "error": execute itself raised
    try:
        status = _execute(job, worker_id, shutdown, contexts, record_success)
        return status
    finally:
        job_finished.send_robust(sender=Job, job=job, worker_id=worker_id, status=status,
                                 duration=time.monotonic() - started)


def _execute(job: Job, worker_id: str, shutdown: threading.Event | None,
             contexts: dict | None, record_success: Callable[[Job, Any], bool] | None) -> str:
    ctx = JobContext(job, worker_id, shutdown)
    if contexts is not None:
        contexts[job.pk] = ctx
    # Once registered: the keeper heartbeats the job however long the receivers take.
    job_started.send_robust(sender=Job, job=job, worker_id=worker_id)
    try:
        handler = get_handler(job.job_class)
        # No query here: the claim has just cleared cancel_requested_at, and a later request
        # reaches the handler through the heartbeat relay and ctx.progress/heartbeat.
        if shutdown is not None and shutdown.is_set():
            raise WorkerShuttingDown()
        if job.cancel_requested_at is not None:
            raise JobCancelled()
        result = handler.func(ctx, job.payload)
    except JobCancelled:
        services.mark_cancelled(job)
        return JobStatus.CANCELLED
    except WorkerShuttingDown:
        services.release(job)
        return JobStatus.PENDING
    except JobLost:
        logger.warning("Job %s was taken from worker %s while running", job.pk, worker_id)
        return "lost"
    except UnknownJobClass as exc:
        # No retry can fix a missing handler.
        job.max_retries = job.retry_count
        services.mark_failed(job, exc)
        return JobStatus.FAILED
    except Exception as exc:  # noqa: BLE001 - a handler's failure is the job's, not ours
        logger.exception("Job %s (%s) failed", job.pk, job.job_class)
        after = services.mark_failed(job, exc)
        return after.status if after else "lost"
    finally:
        if contexts is not None:
            contexts.pop(job.pk, None)
    if not (record_success or services.mark_succeeded)(job, result):
        return "lost"
    return JobStatus.SUCCEEDED


@dataclass
class Worker:
    queues: list[str] = field(default_factory=list)
    concurrency: int = 1
    burst: bool = False
    worker_id: str = field(default_factory=new_worker_id)
    poll_seconds: float = field(default_factory=lambda: settings.JOBS_POLL_SECONDS)
    heartbeat_seconds: float = field(default_factory=lambda: settings.JOBS_HEARTBEAT_SECONDS)
    # Reap at least twice per timeout, so a stalled job waits at most 1.5 timeouts.
    reap_every_seconds: float = field(
        default_factory=lambda: min(10.0, settings.JOBS_HEARTBEAT_TIMEOUT_SECONDS / 2))

    # Jobs a runner may claim at once (PostgreSQL). It claims 1, and doubles up to
    # ``prefetch`` while jobs take less than SHORT_JOB_SECONDS; the keeper gives back what
    # waits behind a job that has run PREFETCH_HOLD_SECONDS. 1 turns prefetching off.
    prefetch: int = 8

    SHORT_JOB_SECONDS = 0.05
    PREFETCH_HOLD_SECONDS = 1.0
    MAX_RETRY_SECONDS = 30.0  # longest wait between claims while the database is unreachable

    def __post_init__(self) -> None:
        self.stopping = threading.Event()      # stop claiming; finish what runs
        self.shutdown = threading.Event()      # ask running jobs to yield (second signal)
        self.wake = threading.Event()
        self.contexts: dict = {}
        self.idle: set[int] = set()
        self.processed = 0
        self._lock = threading.Lock()
        self.ready: dict[int, deque[Job]] = {}    # per runner: claimed, not started yet
        self.running_since: dict[int, float] = {}
        self.held: set = set()  # our 'running' rows not in contexts: prefetched, unrecorded
        self.unrecorded: dict[int, list[tuple[Job, Any, Any]]] = {}

    # --- lifecycle ---------------------------------------------------------------------------
    def request_stop(self) -> None:
        if self.stopping.is_set():
            logger.warning("Second stop request: releasing running jobs back to the queue")
            self.shutdown.set()
        self.stopping.set()
        self.wake.set()

    def run(self) -> int:
        logger.info("Worker %s starting: concurrency=%s queues=%s burst=%s", self.worker_id,
                    self.concurrency, self.queues or "all", self.burst)
        threads = [threading.Thread(target=self._claim_loop, args=(index,),
                                    name=f"job-runner-{index}", daemon=True)
                   for index in range(self.concurrency)]
        keeper = threading.Thread(target=self._keeper_loop, name="job-keeper", daemon=True)
        listener = None
        if connection.vendor == "postgresql" and not self.burst:
            listener = threading.Thread(target=self._listen_loop, name="job-listener",
                                        daemon=True)
            listener.start()
        keeper.start()
        for thread in threads:
            thread.start()
        try:
            while any(thread.is_alive() for thread in threads):
                for thread in threads:
                    thread.join(timeout=0.2)
        finally:
            self.stopping.set()
            keeper.join(timeout=self.heartbeat_seconds + 5)
        logger.info("Worker %s stopped after %s job(s)", self.worker_id, self.processed)
        return self.processed

    # --- runner threads ----------------------------------------------------------------------
    def _claim_loop(self, index: int) -> None:
        ready = self.ready.setdefault(index, deque())
        # Short jobs' successes, written with the runner's next claim (or by the keeper when
        # the job after them runs long).
        self.unrecorded[index] = []
        size, checked, retry_in = 1, 0.0, self.poll_seconds
        # Prefetch saves network round trips; SQLite (development) has none to save.
        prefetch = self.prefetch if connection.vendor == "postgresql" else 1
        deferred = False

        def record_success(job: Job, result: Any) -> bool:
            nonlocal deferred
            if time.monotonic() - self.running_since[index] < self.SHORT_JOB_SECONDS:
                with self._lock:
                    self.unrecorded[index].append((job, result, timezone.now()))
                deferred = True
                return True
            return services.mark_succeeded(job, result)

        try:
            while True:
                job = self._take(index)
                if job is None:
                    if self.stopping.is_set():
                        break
                    # Not before every claim: with CONN_HEALTH_CHECKS it makes the next query
                    # a "SELECT 1" round trip. After idle waits, and once a second.
                    if time.monotonic() - checked >= 1.0:
                        close_old_connections()
                        checked = time.monotonic()
                    try:
                        claimed = self._record_and_claim(index, size)
                    except DatabaseError:
                        # The database restarted or the connection broke: keep the runner,
                        # reconnect on the next try (successes not written are kept too).
                        logger.exception("Claiming failed; retrying in %.1f s", retry_in)
                        connection.close()
                        self.stopping.wait(retry_in)
                        retry_in, checked = min(retry_in * 2, self.MAX_RETRY_SECONDS), 0.0
                        continue
                    retry_in = self.poll_seconds
                    if not claimed:
                        if self.burst and self._all_idle(index):
                            break
                        self.wake.wait(self.poll_seconds)
                        self.wake.clear()
                        checked = 0.0
                        continue
                    with self._lock:
                        ready.extend(claimed)
                        self.held.update(claimed_job.pk for claimed_job in claimed)
                        self.idle.discard(index)
                    continue
                if self.stopping.is_set():
                    with self._lock:
                        self.running_since.pop(index, None)
                    self._release_ready(index, job)
                    continue
                deferred = False
                try:
                    status = execute(job, self.worker_id, self.shutdown, self.contexts,
                                     record_success)
                except DatabaseError:
                    # Its outcome could not be written: it stays running without heartbeats,
                    # so the reaper requeues it (or fails it with heartbeat_timeout).
                    logger.exception("Job %s: the outcome could not be written", job.pk)
                    connection.close()
                    status = "error"
                with self._lock:
                    began = self.running_since.pop(index)
                    self.processed += 1
                    if not deferred:
                        self.held.discard(job.pk)
                short = time.monotonic() - began < self.SHORT_JOB_SECONDS
                size = min(prefetch, size * 2) if short else 1
                if not deferred:
                    logger.info("Job %s (%s) -> %s", job.pk, job.job_class, status)
        finally:
            try:
                self._flush_unrecorded(index)
                self._release_ready(index)
            except Exception:  # noqa: BLE001 - the reaper requeues what stays running
                logger.exception("Runner %s could not write back its jobs", index)
                with self._lock:
                    self.held.difference_update(
                        job.pk for job, _, _ in self.unrecorded.pop(index, []))
                    self.held.difference_update(job.pk for job in self.ready.pop(index, []))
            finally:
                connections.close_all()

    def _take_unrecorded(self, index: int) -> list[tuple[Job, Any, Any]]:
        with self._lock:
            succeeded = self.unrecorded.get(index, [])
            self.unrecorded[index] = []
            return succeeded

    def _record_and_claim(self, index: int, limit: int) -> list[Job]:
        """Write the runner's unwritten successes and claim up to ``limit`` jobs."""
        succeeded = self._take_unrecorded(index)
        try:
            claimed, recorded = services.finish_and_claim(
                self.worker_id, succeeded, self.queues or None, limit)
        except Exception:
            with self._lock:  # written at the next try
                self.unrecorded[index][:0] = succeeded
            raise
        self._log_recorded(succeeded, recorded)
        return claimed

    def _flush_unrecorded(self, index: int) -> None:
        """Write the successes a runner has not written yet (it stops, or runs a long job)."""
        if self.unrecorded.get(index):
            self._record_and_claim(index, 0)

    def _take(self, index: int) -> Job | None:
        with self._lock:
            ready = self.ready[index]
            if not ready:
                return None
            self.running_since[index] = time.monotonic()
            return ready.popleft()

    def _release_ready(self, index: int, *also: Job) -> None:
        with self._lock:
            ready = self.ready.get(index, deque())
            jobs = [*also, *ready]
            ready.clear()
            self.held.difference_update(job.pk for job in jobs)
        services.release_many(jobs, self.worker_id)

    def _log_recorded(self, succeeded: list, recorded: set) -> None:
        with self._lock:
            self.held.difference_update(job.pk for job, _, _ in succeeded)
        for job, _, _ in succeeded:
            logger.info("Job %s (%s) -> %s", job.pk, job.job_class,
                        JobStatus.SUCCEEDED if job.pk in recorded else "lost")

    def _all_idle(self, index: int) -> bool:
        """Burst mode ends when no runner holds a job and none is due."""
        with self._lock:
            self.idle.add(index)
            if len(self.idle) < self.concurrency:
                return False
        due = Job.objects.filter(status=JobStatus.PENDING, scheduled_at__lte=timezone.now())
        if self.queues:
            due = due.filter(queue__in=self.queues)
        if due.exists():
            with self._lock:
                self.idle.discard(index)
            return False
        return True

    # --- keeper: heartbeats, cancel relay, reaping ---------------------------------------------
    def _keeper_loop(self) -> None:
        last_reap = 0.0
        try:
            while True:
                self._beat()
                if time.monotonic() - last_reap >= self.reap_every_seconds:
                    last_reap = time.monotonic()
                    self._reap()
                if self.stopping.wait(self.heartbeat_seconds) and not self.contexts:
                    break
        finally:
            connections.close_all()

    def _beat(self) -> None:
        # Behind a job that runs long, prefetched jobs go back to the queue for other workers
        # and the short jobs run before it get their success written.
        now_monotonic = time.monotonic()
        for index, since in list(self.running_since.items()):
            if now_monotonic - since > self.PREFETCH_HOLD_SECONDS and (
                    self.ready.get(index) or self.unrecorded.get(index)):
                try:
                    close_old_connections()
                    self._flush_unrecorded(index)
                    self._release_ready(index)
                except Exception:  # noqa: BLE001 - retried at the next beat
                    logger.exception("Releasing prefetched jobs failed")
        running = list(self.contexts)
        with self._lock:
            held = list(self.held)
        if not running and not held:
            return
        try:
            close_old_connections()
            now = timezone.now()
            Job.objects.filter(pk__in=running + held, status=JobStatus.RUNNING,
                               worker_id=self.worker_id).update(heartbeat_at=now)
            for pk in Job.objects.filter(pk__in=running,
                                         cancel_requested_at__isnull=False).values_list(
                                             "pk", flat=True):
                ctx = self.contexts.get(pk)
                if ctx is not None:
                    ctx.mark_cancel_requested()
        except Exception:  # noqa: BLE001 - a missed beat is retried at the next one
            logger.exception("Heartbeat failed")

    def _reap(self) -> None:
        try:
            close_old_connections()
            ensure_periodic_jobs()
            if connection.vendor == "postgresql":
                from django.db import transaction

                # One reaper at a time across all workers: a transaction-level advisory lock.
                # A worker stopped while it holds it (SIGSTOP, a frozen VM) would keep every
                # other worker from reaping: the server ends such an idle transaction.
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT set_config('idle_in_transaction_session_timeout', %s, true)",
                        [str(int(1000 * max(1.0, settings.JOBS_HEARTBEAT_TIMEOUT_SECONDS / 2)))])
                    cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [REAPER_LOCK_KEY])
                    if not cursor.fetchone()[0]:
                        return
                    services.reap_stalled()
            else:
                services.reap_stalled()
        except Exception:  # noqa: BLE001
            logger.exception("Reaping failed")

    # --- PostgreSQL LISTEN ---------------------------------------------------------------------
    def _listen_loop(self) -> None:
        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        while not self.stopping.is_set():
            try:
                with psycopg.connect(**params, autocommit=True) as listen_conn:
                    listen_conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    while not self.stopping.is_set():
                        for _ in listen_conn.notifies(timeout=1.0, stop_after=1):
                            self.wake.set()
            except Exception:  # noqa: BLE001 - fall back to polling, try again shortly
                logger.exception("LISTEN connection failed; polling until it is back")
                self.stopping.wait(5)


REAPER_LOCK_KEY = 0x5EED_10B5
