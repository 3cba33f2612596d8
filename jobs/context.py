"""What a handler gets: progress, heartbeat, checkpoint, and cooperative cancellation."""

from __future__ import annotations

import threading
from typing import Any

from django.utils import timezone

from jobs.models import Job, JobStatus


class JobInterrupted(Exception):
    """Base of the exceptions a context raises to stop a handler."""


class JobCancelled(JobInterrupted):
    """A cancel was requested: the handler stops at its next progress/heartbeat/checkpoint."""


class WorkerShuttingDown(JobInterrupted):
    """The worker is stopping and asked its jobs to yield: the job goes back to pending."""


class JobLost(JobInterrupted):
    """The row is no longer ours (reaped after a stall, or deleted): stop without writing."""


class JobContext:
    """Passed to ``handle(ctx, payload)``. Every call to ``progress``, ``heartbeat`` or
    ``checkpoint`` records liveness and raises ``JobCancelled`` if a cancel was requested."""

    def __init__(self, job: Job, worker_id: str, shutdown: threading.Event | None = None) -> None:
        self.job = job
        self.job_id = job.pk
        self.worker_id = worker_id
        self._shutdown = shutdown or threading.Event()
        self._cancel_seen = job.cancel_requested_at is not None

    # --- what handlers call -------------------------------------------------------------------
    @property
    def payload(self) -> dict:
        return self.job.payload

    @property
    def project_id(self):
        return self.job.project_id

    @property
    def saved_checkpoint(self) -> Any:
        """The last ``checkpoint()`` state, e.g. from an attempt that was interrupted."""
        return self.job.checkpoint

    @property
    def cancelled(self) -> bool:
        if not self._cancel_seen:
            self._cancel_seen = Job.objects.filter(
                pk=self.job_id, cancel_requested_at__isnull=False).exists()
        return self._cancel_seen

    def progress(self, percent: float) -> None:
        value = max(0, min(100, int(percent)))
        self._touch(progress=value)
        self.job.progress = value

    def heartbeat(self) -> None:
        self._touch()

    def checkpoint(self, state: Any) -> None:
        self._touch(checkpoint=state)
        self.job.checkpoint = state

    def hold(self) -> None:
        """Inside the caller's transaction: lock this job's row until the transaction ends and
        check that this execution still owns it, else raise ``JobLost``. A handler that
        publishes what it made outside the job row (files, rows of its own) does it in one
        transaction that starts with ``hold()``: an execution whose worker stalled past the
        heartbeat timeout — its job reaped and run again — then commits nothing, and the
        reaper cannot take the job between the check and the commit. (A run again has another
        worker, or a retry_count one higher.)"""
        owned = Job.objects.select_for_update().filter(
            pk=self.job_id, status=JobStatus.RUNNING, worker_id=self.worker_id,
            retry_count=self.job.retry_count)
        if not owned.exists():
            raise JobLost(f"Job {self.job_id} is no longer this execution's "
                          f"({self.worker_id}, retry {self.job.retry_count}).")

    def raise_if_cancelled(self) -> None:
        if self._shutdown.is_set():
            raise WorkerShuttingDown()
        if self.cancelled:
            raise JobCancelled()

    # --- internals ---------------------------------------------------------------------------
    def mark_cancel_requested(self) -> None:
        """Called by the worker's heartbeat thread when it sees a cancel request."""
        self._cancel_seen = True

    def _touch(self, **fields: Any) -> None:
        now = timezone.now()
        ours = Job.objects.filter(pk=self.job_id, status=JobStatus.RUNNING,
                                  worker_id=self.worker_id)
        if self.job.started_at is not None:  # and still this execution (see outcomes.owned)
            ours = ours.filter(started_at=self.job.started_at)
        updated = ours.update(heartbeat_at=now, updated_at=now, **fields)
        if not updated:
            # The row was taken from us (reaped after a stall, or deleted): stop working on it.
            raise JobLost(f"Job {self.job_id} is no longer running on {self.worker_id}.")
        self.raise_if_cancelled()
