"""The native worker: N runner threads claim and run jobs (``_Runner``: each job's outcome is
committed before its runner starts another); a keeper thread heartbeats the worker's jobs and
relays cancel requests; a janitor thread queues the periodic jobs and reaps stalled jobs; on
PostgreSQL a listener wakes idle runners on NOTIFY."""

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
    A job claimed ahead (``started_at`` None) is started first; one that is not ``worker_id``'s
    any more does not run ("lost", no signal). Sends ``job_started`` before and
    ``job_finished`` after, in the thread that runs it. ``record_success(job, result)``
    replaces ``services.mark_succeeded`` and returns whether the success was written (the
    native worker writes it in the statement that starts its next job).
    """
    if job.started_at is None and not services.finish_and_start(worker_id, [], job)[0]:
        logger.warning("Job %s was taken from worker %s before it started", job.pk, worker_id)
        return "lost"
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
        # No query here: the statement that started the job has returned its
        # cancel_requested_at, and a later request reaches the handler through the heartbeat
        # relay and ctx.progress/heartbeat.
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


class _Runner:
    """One runner thread of a Worker.

    Between two jobs it sends one statement: the previous job's success written and the next
    job started — the next one it claimed ahead (``services.finish_and_start``) or, when none
    is left, the first of a new claim (``services.finish_and_claim``). So a job's outcome is
    committed before its runner starts another job, at one round trip per job. Failures,
    cancellations and releases are written by ``execute`` as they happen.

    Claim-ahead (PostgreSQL): the claim takes 1 job, twice as many (up to ``prefetch``) after
    each job shorter than SHORT_JOB_SECONDS, 1 again after a longer one. Jobs claimed ahead
    wait with ``started_at`` NULL: if the worker dies, the reaper gives them back without
    charging a retry; the keeper gives them back when the job before them runs long.
    """

    def __init__(self, worker: Worker, index: int) -> None:
        self.worker = worker
        self.index = index
        self.ready = worker.ready.setdefault(index, deque())  # claimed ahead, not started
        # Prefetch saves network round trips; SQLite (development) has none to save.
        self.prefetch = worker.prefetch if connection.vendor == "postgresql" else 1
        self.size = 1
        self.checked = 0.0
        self.retry_in = worker.poll_seconds
        self.next: Job | None = None  # started by the last statement: runs next
        # Successes whose write failed (database unreachable): written by the next statement,
        # before any other job starts; heartbeated meanwhile.
        self.unwritten: list[services.Succeeded] = []
        self.recorded: set = set()
        self.began = 0.0
        self.sized = False

    def run(self) -> None:
        try:
            while (job := self._next_job()) is not None:
                self._run(job)
        finally:
            try:
                self._stop()
            except Exception:  # noqa: BLE001 - the reaper gives back what stays running
                logger.exception("Runner %s could not write back its jobs", self.index)
                with self.worker._lock:
                    self.worker.held.difference_update(
                        job.pk for job in [*self.ready, *(job for job, _, _ in self.unwritten)])
                    self.ready.clear()
            finally:
                connections.close_all()

    # --- the loop ------------------------------------------------------------------------------
    def _next_job(self) -> Job | None:
        """The next job to run, started; None when the runner stops."""
        worker = self.worker
        while True:
            job, self.next = self.next, None
            if job is not None:
                if not worker.stopping.is_set():
                    return job
                with worker._lock:
                    worker.held.discard(job.pk)
                services.release(job)  # started, but it never ran: given back uncharged
                continue
            if worker.stopping.is_set():
                return None
            try:
                job = self._start_next()
            except DatabaseError:
                # The database restarted or the connection broke: keep the runner, reconnect
                # on the next try (the successes not written yet are kept too).
                logger.exception("Claiming failed; retrying in %.1f s", self.retry_in)
                connection.close()
                worker.stopping.wait(self.retry_in)
                self.retry_in = min(self.retry_in * 2, worker.MAX_RETRY_SECONDS)
                self.checked = 0.0
                continue
            self.retry_in = worker.poll_seconds
            if job is not None:
                return job
            if worker.burst and worker._all_idle(self.index):
                return None
            worker.wake.wait(worker.poll_seconds)
            worker.wake.clear()
            self.checked = 0.0

    def _run(self, job: Job) -> None:
        worker = self.worker
        with worker._lock:
            worker.running_since[self.index] = self.began = time.monotonic()
        self.sized = False
        try:
            status = execute(job, worker.worker_id, worker.shutdown, worker.contexts,
                             self._record_success)
        except DatabaseError:
            # Its outcome could not be written: it stays running without heartbeats, so the
            # reaper requeues it (or fails it with heartbeat_timeout).
            logger.exception("Job %s: the outcome could not be written", job.pk)
            connection.close()
            status = "error"
        if not self.sized:
            self._resize()
        with worker._lock:
            worker.running_since.pop(self.index, None)
            worker.processed += 1
            if not any(job is unwritten for unwritten, _, _ in self.unwritten):
                worker.held.discard(job.pk)
        logger.info("Job %s (%s) -> %s", job.pk, job.job_class, status)

    def _record_success(self, job: Job, result: Any) -> bool:
        """``execute``'s hook: the success is written by the statement that starts the next
        job (or, when the worker stops, on its own)."""
        self._resize()
        self.sized = True
        self.unwritten.append((job, result, timezone.now()))
        try:
            if self.worker.stopping.is_set():
                self._write(services.finish_and_claim(self.worker.worker_id, self.unwritten,
                                                      limit=0)[1])
            else:
                self.next = self._start_next()
        except DatabaseError:
            logger.exception("Job %s: its success is written by the runner's next statement, "
                             "before any other job starts", job.pk)
            connection.close()
            if any(entry[0] is job for entry in self.unwritten):
                return True  # written by the next statement, before another job starts
        return job.pk in self.recorded

    # --- statements ----------------------------------------------------------------------------
    def _start_next(self) -> Job | None:
        """Write the successes not written yet and start the next job: one claimed ahead, or
        the first of a new claim. None when nothing is due."""
        worker = self.worker
        if time.monotonic() - self.checked >= 1.0:
            # Not before every statement: with CONN_HEALTH_CHECKS it makes the next query a
            # "SELECT 1" round trip. After idle waits, and once a second.
            close_old_connections()
            self.checked = time.monotonic()
        while (following := self._take_ready()) is not None:
            try:
                started, recorded = services.finish_and_start(worker.worker_id, self.unwritten,
                                                              following)
            except BaseException:
                with worker._lock:
                    self.ready.appendleft(following)
                raise
            self._write(recorded)
            if started:
                return following
            logger.warning("Job %s was taken from worker %s before it started", following.pk,
                           worker.worker_id)
            with worker._lock:
                worker.held.discard(following.pk)
        claimed, recorded = services.finish_and_claim(worker.worker_id, self.unwritten,
                                                      worker.queues or None, self.size)
        self._write(recorded)
        if not claimed:
            return None
        with worker._lock:
            worker.held.update(job.pk for job in claimed)
            self.ready.extend(claimed[1:])
            worker.idle.discard(self.index)
        return claimed[0]  # started by the claim

    def _write(self, recorded: set) -> None:
        """The successes in ``unwritten`` have been written (or found lost)."""
        self.recorded = recorded
        written, self.unwritten = self.unwritten, []
        with self.worker._lock:
            self.worker.held.difference_update(job.pk for job, _, _ in written)
        for job, _, _ in written:
            if job.pk not in recorded:
                logger.warning("Job %s succeeded, but it was not worker %s's any more when "
                               "written: lost", job.pk, self.worker.worker_id)

    def _take_ready(self) -> Job | None:
        with self.worker._lock:
            return self.ready.popleft() if self.ready else None

    def _resize(self) -> None:
        short = time.monotonic() - self.began < self.worker.SHORT_JOB_SECONDS
        self.size = min(self.prefetch, self.size * 2) if short else 1

    def _stop(self) -> None:
        """Write what is not written yet, give back what was claimed ahead."""
        if self.unwritten:
            self._write(services.finish_and_claim(self.worker.worker_id, self.unwritten,
                                                  limit=0)[1])
        self.worker._release_ready(self.index)


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
    # waits behind a job that has run PREFETCH_HOLD_SECONDS (claimed ahead, never started:
    # given back uncharged). 1 turns prefetching off.
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
        self.ready: dict[int, deque[Job]] = {}    # per runner: claimed ahead, not started
        self.running_since: dict[int, float] = {}
        # Our 'running' rows, heartbeated: claimed ahead, running, successes being written.
        self.held: set = set()

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
        # Apart from the heartbeats: a janitor waiting on a lock must not stop them.
        janitor = threading.Thread(target=self._janitor_loop, name="job-janitor", daemon=True)
        listener = None
        if connection.vendor == "postgresql" and not self.burst:
            listener = threading.Thread(target=self._listen_loop, name="job-listener",
                                        daemon=True)
            listener.start()
        keeper.start()
        janitor.start()
        for thread in threads:
            thread.start()
        try:
            while any(thread.is_alive() for thread in threads):
                for thread in threads:
                    thread.join(timeout=0.2)
        finally:
            self.stopping.set()
            keeper.join(timeout=self.heartbeat_seconds + 5)
            janitor.join(timeout=5)
        logger.info("Worker %s stopped after %s job(s)", self.worker_id, self.processed)
        return self.processed

    # --- runner threads ----------------------------------------------------------------------
    def _claim_loop(self, index: int) -> None:
        _Runner(self, index).run()

    def _release_ready(self, index: int) -> None:
        """Give back the jobs runner ``index`` claimed ahead: pending again, as they were (no
        retry charged: they never ran)."""
        with self._lock:
            ready = self.ready.get(index, deque())
            jobs = list(ready)
            ready.clear()
            self.held.difference_update(job.pk for job in jobs)
        services.release_many(jobs, self.worker_id)

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

    # --- keeper: heartbeats, cancel relay; janitor: periodic jobs, reaping ----------------------
    def _keeper_loop(self) -> None:
        try:
            while True:
                self._beat()
                if self.stopping.wait(self.heartbeat_seconds) and not self.contexts:
                    break
        finally:
            connections.close_all()

    def _janitor_loop(self) -> None:
        """Queue the periodic jobs' next runs and reap stalled jobs, every
        ``reap_every_seconds``."""
        try:
            while True:
                self._reap()
                if self.stopping.wait(self.reap_every_seconds):
                    break
        finally:
            connections.close_all()

    def _beat(self) -> None:
        # Behind a job that runs long, the jobs claimed ahead go back to the queue for others.
        now_monotonic = time.monotonic()
        for index, since in list(self.running_since.items()):
            if now_monotonic - since > self.PREFETCH_HOLD_SECONDS and self.ready.get(index):
                try:
                    close_old_connections()
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
            services.reap_as_the_only_reaper()
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


REAPER_LOCK_KEY = services.REAPER_LOCK_KEY
