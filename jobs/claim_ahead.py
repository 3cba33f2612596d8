"""A runner's claims: the jobs it claimed ahead, how many its next claim takes, and the
successes it has not written yet.

Between two jobs a runner sends one statement: the previous job's success written and the next
job started — the next one it claimed ahead (``claiming.finish_and_start``) or, when none is
left, the first of a new claim (``claiming.finish_and_claim``). So a job's outcome is committed
before its runner starts another job, at one round trip per job.

Claim-ahead (PostgreSQL): the claim takes 1 job, twice as many (up to ``prefetch``) after each
job shorter than the worker's SHORT_JOB_SECONDS, 1 again after a longer one. Jobs claimed ahead
wait with ``started_at`` NULL: if the worker dies, the reaper gives them back without charging
a retry; the keeper gives them back when the job before them runs long.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from jobs.claiming import Succeeded, finish_and_claim, finish_and_start
from jobs.models import Job
from jobs.runner_host import RunnerHost

logger = logging.getLogger("jobs.worker")


class ClaimAhead:
    def __init__(self, worker: RunnerHost, index: int) -> None:
        self.worker = worker
        self.index = index
        self.ready: deque[Job] = worker.ready.setdefault(index, deque())  # not started
        # Prefetch saves network round trips; SQLite (development) has none to save.
        self.prefetch = worker.prefetch if connection.vendor == "postgresql" else 1
        self.size = 1
        self.checked = 0.0
        # Successes whose write failed (database unreachable): written by the next statement,
        # before any other job starts; heartbeated meanwhile.
        self.unwritten: list[Succeeded] = []
        self.recorded: set = set()

    def resize(self, seconds_run: float) -> None:
        """The next claim's size, after a job that ran ``seconds_run``."""
        short = seconds_run < self.worker.SHORT_JOB_SECONDS
        self.size = min(self.prefetch, self.size * 2) if short else 1

    def start_next(self) -> Job | None:
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
                started, recorded = finish_and_start(worker.worker_id, self.unwritten,
                                                     following)
            except BaseException:
                with worker.lock:
                    self.ready.appendleft(following)
                raise
            self._written(recorded)
            if started:
                return following
            logger.warning("Job %s was taken from worker %s before it started", following.pk,
                           worker.worker_id)
            with worker.lock:
                worker.held.discard(following.pk)
        claimed, recorded = finish_and_claim(worker.worker_id, self.unwritten,
                                             worker.queues or None, self.size)
        self._written(recorded)
        if not claimed:
            return None
        with worker.lock:
            worker.held.update(job.pk for job in claimed)
            self.ready.extend(claimed[1:])
            worker.idle.discard(self.index)
        return claimed[0]  # started by the claim

    def write_success(self, job: Job, result: Any, *,
                      start_next: bool) -> tuple[Job | None, bool]:
        """Write ``job``'s success: with the start of the next job when ``start_next``, else
        on its own. Returns (the next job, started, or None; whether the success is written
        or will be, before another job of the runner starts)."""
        self.unwritten.append((job, result, timezone.now()))
        following = None
        try:
            if start_next:
                following = self.start_next()
            else:
                self.write_unwritten()
        except DatabaseError:
            logger.exception("Job %s: its success is written by the runner's next statement, "
                             "before any other job starts", job.pk)
            connection.close()
            if self.is_unwritten(job):
                return None, True  # written by the next statement, before another job starts
        return following, job.pk in self.recorded

    def write_unwritten(self) -> None:
        if self.unwritten:
            self._written(finish_and_claim(self.worker.worker_id, self.unwritten, limit=0)[1])

    def is_unwritten(self, job: Job) -> bool:
        return any(entry[0] is job for entry in self.unwritten)

    def forget(self) -> None:
        """Stop heartbeating what the runner could not write back: the reaper gives it back."""
        with self.worker.lock:
            self.worker.held.difference_update(
                job.pk for job in [*self.ready, *(job for job, _, _ in self.unwritten)])
            self.ready.clear()

    def _written(self, recorded: set) -> None:
        """The successes in ``unwritten`` have been written (or found lost)."""
        self.recorded = recorded
        written, self.unwritten = self.unwritten, []
        with self.worker.lock:
            self.worker.held.difference_update(job.pk for job, _, _ in written)
        for job, _, _ in written:
            if job.pk not in recorded:
                logger.warning("Job %s succeeded, but it was not worker %s's any more when "
                               "written: lost", job.pk, self.worker.worker_id)

    def _take_ready(self) -> Job | None:
        with self.worker.lock:
            return self.ready.popleft() if self.ready else None
