"""Claiming jobs: a claimed job is ``running`` with its worker's ``worker_id``. It is *started*
when its ``started_at`` is written, in the statement that runs just before its handler. A job
claimed ahead (a runner's prefetch) keeps ``started_at`` NULL until then: if its worker dies
first, the reaper puts it back as it was, without charging a retry (retries count executions,
not claims).

A runner writes its previous job's success in the statement that starts (or claims) its next
job (``finish_and_start``, ``finish_and_claim``): one statement per job on PostgreSQL, and no
outcome is left unwritten while another job of the runner runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from jobs import queries
from jobs.models import Job, JobStatus
from jobs.outcomes import mark_succeeded

Succeeded = tuple[Job, Any, datetime]  # (job, result, finished_at) of a success to write


def _adapt(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _claim_order(job: Job):
    return (-job.priority, job.scheduled_at, job.created_at, job.pk)


def _run_order(jobs: Iterable[Job]) -> list[Job]:
    """Claimed jobs in the order their runner runs them: the started one first."""
    return sorted(jobs, key=lambda job: (job.started_at is None, _claim_order(job)))


def _claim_params(worker_id: str, queues: list[str] | None, limit: int,
                  now: datetime) -> tuple[str, dict[str, Any]]:
    shape, params = queries.queue_filter(connection.vendor, queues)
    return shape, {**params, "worker_id": worker_id, "limit": limit, "now": _adapt(now)}


def _claim_sqlite(shape: str, params: dict[str, Any]) -> list[Job]:
    """SQLite (in an IMMEDIATE transaction, which holds the database's write lock): the ids,
    then their rows; the first is started."""
    with connection.cursor() as cursor:
        cursor.execute(queries.PICK_SQLITE[shape], params)
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    return list(Job.objects.raw(queries.CLAIM_PICKED_SQLITE,
                                {**params, "first": ids[0], "ids": json.dumps(ids)}))


def claim(worker_id: str, queues: list[str] | None = None, limit: int = 1) -> list[Job]:
    """Atomically take up to ``limit`` due pending jobs; returns them in run order: the first
    (in claim order) is started, the others are claimed ahead (``started_at`` NULL) until
    ``start`` or ``finish_and_start``.

    PostgreSQL: one statement (``claim_pg``), atomic by itself, so it runs in autocommit (no
    BEGIN and COMMIT round trips). SQLite: an IMMEDIATE transaction, which holds the
    database's write lock, so two workers can never take the same row.
    """
    if limit <= 0:
        return []
    shape, params = _claim_params(worker_id, queues, limit, timezone.now())
    if connection.vendor == "postgresql":
        jobs = list(Job.objects.raw(queries.CLAIM_PG[shape], params))
    else:
        with transaction.atomic():
            jobs = _claim_sqlite(shape, params)
    return _run_order(jobs)


def claim_next(worker_id: str, queues: list[str] | None = None) -> Job | None:
    """Take and start the next due pending job (see ``claim``)."""
    jobs = claim(worker_id, queues, 1)
    return jobs[0] if jobs else None


def claim_by_id(job_id, worker_id: str) -> Job | None:
    """Take and start one given pending job (the Celery backend's claim, the commands that
    run one job); None if it is not pending any more (another worker has it, or it was
    cancelled or deleted)."""
    params = {"id": Job._meta.pk.get_db_prep_value(job_id, connection),
              "worker_id": worker_id, "now": _adapt(timezone.now())}
    with transaction.atomic():
        jobs = list(Job.objects.raw(queries.CLAIM_BY_ID, params))
    return jobs[0] if jobs else None


def _finish_params(succeeded: list[Succeeded], start: Job | None) -> dict[str, Any]:
    """The parameters of ``finish_and_start_pg(len(succeeded), start is not None)``."""
    encoder = Job._meta.get_field("result").encoder
    params: dict[str, Any] = {}
    for n, (job, result, finished_at) in enumerate(succeeded):
        params[f"id_{n}"] = job.pk
        params[f"result_{n}"] = None if result is None else \
            connection.ops.adapt_json_value(result, encoder)
        params[f"finished_at_{n}"] = _adapt(finished_at)
        params[f"started_at_{n}"] = job.started_at and _adapt(job.started_at)
    if start is not None:
        params["start_id"] = start.pk
    return params


def _mark_each_succeeded(succeeded: list[Succeeded]) -> set:
    return {job.pk for job, result, finished_at in succeeded
            if mark_succeeded(job, result, finished_at)}


def finish_and_claim(worker_id: str, succeeded: list[Succeeded],
                     queues: list[str] | None = None,
                     limit: int = 1) -> tuple[list[Job], set]:
    """Write the successes in ``succeeded`` — (job, result, finished_at) of jobs this worker
    still runs — and claim up to ``limit`` jobs (see ``claim``: the first is started): one
    statement on PostgreSQL, the successes first elsewhere.

    Returns (the claimed jobs in run order, the pks written as succeeded); a job missing from
    the second was not ours any more (reaped or deleted meanwhile): it is lost.
    """
    if connection.vendor != "postgresql" or not succeeded:
        recorded = _mark_each_succeeded(succeeded)
        return claim(worker_id, queues, limit), recorded
    shape, params = _claim_params(worker_id, queues, limit, timezone.now())
    params.update(_finish_params(succeeded, None))
    if limit <= 0:
        with connection.cursor() as cursor:
            cursor.execute(queries.finish_and_start_pg(len(succeeded), False), params)
            return [], {row[0] for row in cursor.fetchall()}
    rows = list(Job.objects.raw(queries.finish_and_claim_pg(shape, len(succeeded)), params))
    recorded = set(rows[0].done_ids) if rows else set()
    return _run_order(job for job in rows if job.pk is not None), recorded


def finish_and_start(worker_id: str, succeeded: list[Succeeded],
                     job: Job) -> tuple[bool, set]:
    """Write the successes in ``succeeded`` (see ``finish_and_claim``) and start ``job``, a job
    this worker claimed ahead: one statement on PostgreSQL, the successes first elsewhere.

    Returns (whether ``job`` was started — False when it is not ours any more: given back by
    the reaper, or deleted —, the pks written as succeeded). On start, ``job.started_at`` and
    ``job.cancel_requested_at`` (a cancel requested while it waited) are brought up to date.
    """
    now = timezone.now()
    if connection.vendor == "postgresql":
        params = {**_finish_params(succeeded, job), "worker_id": worker_id,
                  "now": _adapt(now)}
        with connection.cursor() as cursor:
            cursor.execute(queries.finish_and_start_pg(len(succeeded), True), params)
            rows = cursor.fetchall()
        recorded = {pk for pk, is_start, _ in rows if not is_start}
        started = [cancel_requested_at for _, is_start, cancel_requested_at in rows if is_start]
        if started:
            job.cancel_requested_at = started[0]
    else:
        with transaction.atomic():
            recorded = _mark_each_succeeded(succeeded)
            ours = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING,
                                      worker_id=worker_id)
            started = ours.filter(started_at__isnull=True).update(started_at=now)
            if started:
                job.cancel_requested_at = ours.values_list("cancel_requested_at",
                                                           flat=True).first()
    if started:
        job.started_at = now
    return bool(started), recorded


def start(job: Job) -> bool:
    """Start ``job``, claimed ahead by its worker (``job.worker_id``); False if it is not
    that worker's any more (see ``finish_and_start``)."""
    return finish_and_start(job.worker_id, [], job)[0]
