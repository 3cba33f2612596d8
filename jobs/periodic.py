"""Periodic jobs: ``periodic_job("exports.expire", every_seconds=3600)`` keeps exactly one
pending job of that class queued, due ``every_seconds`` after the previous one was due. Each
worker's janitor (and the Celery ``jobs.reap`` task) calls ``ensure_periodic_jobs()``; the
unicity key makes that idempotent across workers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from jobs.models import ACTIVE_STATUSES, Job
from jobs.reaping import janitor_transaction
from jobs.services import enqueue

logger = logging.getLogger("jobs.periodic")


@dataclass(frozen=True)
class PeriodicJob:
    job_class: str
    every_seconds: float

    @property
    def unicity(self) -> str:
        return f"periodic:{self.job_class}"


_periodic: dict[str, PeriodicJob] = {}


def periodic_job(job_class: str, every_seconds: float) -> PeriodicJob:
    entry = PeriodicJob(job_class, every_seconds)
    _periodic[job_class] = entry
    return entry


def registered_periodic_jobs() -> list[PeriodicJob]:
    return list(_periodic.values())


def ensure_periodic_jobs() -> list[Job]:
    """Enqueue the next run of every periodic job that has none pending or running.

    Each entry on its own (a transaction, or a savepoint, each): one that fails (its handler
    not registered in this process, bad stored data in its last job, a lock held too long by
    another worker's transaction) is logged and skipped; the others are still queued."""
    created = []
    now = timezone.now()
    for entry in list(_periodic.values()):
        try:
            with janitor_transaction():
                job = _ensure(entry, now)
        except Exception:  # noqa: BLE001 - one bad entry must not stop the others
            logger.exception("Could not queue the next run of periodic job %s",
                             entry.job_class)
            continue
        if job is not None:
            created.append(job)
    return created


def _ensure(entry: PeriodicJob, now) -> Job | None:
    if Job.objects.filter(unicity=entry.unicity, status__in=ACTIVE_STATUSES).exists():
        return None
    last = Job.objects.filter(unicity=entry.unicity).order_by("-scheduled_at") \
        .values_list("scheduled_at", flat=True).first()
    due = now if last is None else max(now, last + timedelta(seconds=entry.every_seconds))
    return enqueue(entry.job_class, {}, unicity=entry.unicity, scheduled_at=due, max_retries=0)
