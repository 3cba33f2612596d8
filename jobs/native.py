"""The native execution backend (``JOBS_BACKEND = "native"``): the ``run_worker`` processes
poll the table; on PostgreSQL a NOTIFY, delivered at commit, wakes the idle ones at once."""

from __future__ import annotations

from django.db import connection

from jobs import queries
from jobs.models import Job


def dispatch(job: Job) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(queries.NOTIFY_PG, {"queue": job.queue})
