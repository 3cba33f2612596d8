"""One runner thread of a Worker: it loops, taking the next job (``ClaimAhead``) and running it
(``execution.execute``), until the worker stops. Failures, cancellations and releases are
written by ``execute`` as they happen; a success by the statement that starts the runner's
next job (see ``jobs.claim_ahead``)."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import DatabaseError, connection, connections

from jobs import outcomes
from jobs.claim_ahead import ClaimAhead
from jobs.execution import execute
from jobs.models import Job
from jobs.runner_host import RunnerHost

logger = logging.getLogger("jobs.worker")


class Runner:
    def __init__(self, worker: RunnerHost, index: int) -> None:
        self.worker = worker
        self.index = index
        self.claims = ClaimAhead(worker, index)
        self.retry_in = worker.poll_seconds
        self.next: Job | None = None  # started by the last statement: runs next
        self.began = 0.0
        self.sized = False

    def run(self) -> None:
        try:
            while (job := self._next_job()) is not None:
                self._run(job)
        finally:
            try:
                # Write what is not written yet, give back what was claimed ahead.
                self.claims.write_unwritten()
                self.worker.release_ready(self.index)
            except Exception:  # noqa: BLE001 - the reaper gives back what stays running
                logger.exception("Runner %s could not write back its jobs", self.index)
                self.claims.forget()
            finally:
                connections.close_all()

    def _next_job(self) -> Job | None:
        """The next job to run, started; None when the runner stops."""
        worker = self.worker
        while True:
            job, self.next = self.next, None
            if job is not None:
                if not worker.stopping.is_set():
                    return job
                with worker.lock:
                    worker.held.discard(job.pk)
                outcomes.release(job)  # started, but it never ran: given back uncharged
                continue
            if worker.stopping.is_set():
                return None
            try:
                job = self.claims.start_next()
            except DatabaseError:
                # The database restarted or the connection broke: keep the runner, reconnect
                # on the next try (the successes not written yet are kept too).
                logger.exception("Claiming failed; retrying in %.1f s", self.retry_in)
                connection.close()
                worker.stopping.wait(self.retry_in)
                self.retry_in = min(self.retry_in * 2, worker.MAX_RETRY_SECONDS)
                self.claims.checked = 0.0
                continue
            self.retry_in = worker.poll_seconds
            if job is not None:
                return job
            if worker.burst and worker.all_idle(self.index):
                return None
            worker.wake.wait(worker.poll_seconds)
            worker.wake.clear()
            self.claims.checked = 0.0

    def _run(self, job: Job) -> None:
        worker = self.worker
        with worker.lock:
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
            self.claims.resize(time.monotonic() - self.began)
        with worker.lock:
            worker.running_since.pop(self.index, None)
            worker.processed += 1
            if not self.claims.is_unwritten(job):
                worker.held.discard(job.pk)
        logger.info("Job %s (%s) -> %s", job.pk, job.job_class, status)

    def _record_success(self, job: Job, result: Any) -> bool:
        """``execute``'s hook: the success is written by the statement that starts the next
        job (or, when the worker stops, on its own)."""
        self.claims.resize(time.monotonic() - self.began)
        self.sized = True
        self.next, written = self.claims.write_success(
            job, result, start_next=not self.worker.stopping.is_set())
        return written
