"""The native worker: N runner threads claim and run jobs (``jobs.runner``: each job's outcome
is committed before its runner starts another); a keeper thread heartbeats the worker's jobs
and relays cancel requests; a janitor thread queues the periodic jobs and reaps stalled jobs;
on PostgreSQL a listener wakes idle runners on NOTIFY."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connection, connections
from django.utils import timezone

from jobs import heartbeats, queries
from jobs.execution import new_worker_id
from jobs.models import Job, JobStatus
from jobs.outcomes import release_many
from jobs.periodic import ensure_periodic_jobs
from jobs.reaping import reap_as_the_only_reaper
from jobs.runner import Runner

logger = logging.getLogger("jobs.worker")


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
        self.lock = threading.Lock()
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
        threads = [threading.Thread(target=self._runner_loop, args=(index,),
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
    def _runner_loop(self, index: int) -> None:
        Runner(self, index).run()

    def release_ready(self, index: int) -> None:
        """Give back the jobs runner ``index`` claimed ahead: pending again, as they were (no
        retry charged: they never ran)."""
        with self.lock:
            ready = self.ready.get(index, deque())
            jobs = list(ready)
            ready.clear()
            self.held.difference_update(job.pk for job in jobs)
        release_many(jobs, self.worker_id)

    def all_idle(self, index: int) -> bool:
        """Burst mode ends when no runner holds a job and none is due."""
        with self.lock:
            self.idle.add(index)
            if len(self.idle) < self.concurrency:
                return False
        due = Job.objects.filter(status=JobStatus.PENDING, scheduled_at__lte=timezone.now())
        if self.queues:
            due = due.filter(queue__in=self.queues)
        if due.exists():
            with self.lock:
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
                    self.release_ready(index)
                except Exception:  # noqa: BLE001 - retried at the next beat
                    logger.exception("Releasing prefetched jobs failed")
        with self.lock:
            held = list(self.held)
        if not self.contexts and not held:
            return
        try:
            close_old_connections()
            heartbeats.beat(self.worker_id, self.contexts, held)
        except Exception:  # noqa: BLE001 - a missed beat is retried at the next one
            logger.exception("Heartbeat failed")

    def _reap(self) -> None:
        try:
            close_old_connections()
            ensure_periodic_jobs()
            reap_as_the_only_reaper()
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
                    listen_conn.execute(queries.LISTEN_PG)
                    while not self.stopping.is_set():
                        for _ in listen_conn.notifies(timeout=1.0, stop_after=1):
                            self.wake.set()
            except Exception:  # noqa: BLE001 - fall back to polling, try again shortly
                logger.exception("LISTEN connection failed; polling until it is back")
                self.stopping.wait(5)
