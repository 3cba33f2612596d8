"""Execution backends: how a pending job reaches something that runs it.

``native`` (default): the ``run_worker`` processes poll the table; on PostgreSQL a NOTIFY
wakes idle workers at once. ``celery``: the job id is sent to a Celery task after commit; the
Celery worker claims the same row by id and runs the same handler. Either way the Job row is
the source of truth.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction

NOTIFY_CHANNEL = "syncservice_jobs"


def dispatch(job) -> None:
    backend = settings.JOBS_BACKEND
    if backend == "native":
        if connection.vendor == "postgresql":
            # Delivered by PostgreSQL at commit, so a worker never wakes before the row exists.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, job.queue])
    elif backend == "celery":
        from jobs.celery import send_job

        job_id, eta = str(job.pk), job.scheduled_at
        # robust: a broker outage is logged, not turned into an error of the request that
        # enqueued; the row stays pending until dispatched again (the run_now signal does).
        transaction.on_commit(lambda: send_job(job_id, eta), robust=True)
    else:
        raise ValueError(f"JOBS_BACKEND must be 'native' or 'celery', not {backend!r}")
