"""Running one claimed job: its handler called, its outcome recorded. Shared by the native
worker's runners, the Celery task and the commands that run one job: the same handler, the
same rules."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from jobs import outcomes
from jobs.claiming import finish_and_start
from jobs.context import JobCancelled, JobContext, JobLost, WorkerShuttingDown
from jobs.models import Job, JobStatus
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
    replaces ``outcomes.mark_succeeded`` and returns whether the success was written (the
    native worker writes it in the statement that starts its next job).
    """
    if job.started_at is None and not finish_and_start(worker_id, [], job)[0]:
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
        outcomes.mark_cancelled(job)
        return JobStatus.CANCELLED
    except WorkerShuttingDown:
        outcomes.release(job)
        return JobStatus.PENDING
    except JobLost:
        logger.warning("Job %s was taken from worker %s while running", job.pk, worker_id)
        return "lost"
    except UnknownJobClass as exc:
        # No retry can fix a missing handler.
        job.max_retries = job.retry_count
        outcomes.mark_failed(job, exc)
        return JobStatus.FAILED
    except Exception as exc:  # noqa: BLE001 - a handler's failure is the job's, not ours
        logger.exception("Job %s (%s) failed", job.pk, job.job_class)
        after = outcomes.mark_failed(job, exc)
        return after.status if after else "lost"
    finally:
        if contexts is not None:
            contexts.pop(job.pk, None)
    if not (record_success or outcomes.mark_succeeded)(job, result):
        return "lost"
    return JobStatus.SUCCEEDED
