"""Periodic jobs: ``periodic_job("exports.expire", every_seconds=3600)`` keeps exactly one
pending job of that class queued, due ``every_seconds`` after the previous one was due. Each
worker's keeper calls ``ensure_periodic_jobs()``; the unicity key makes that idempotent across
workers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from jobs.models import ACTIVE_STATUSES, Job


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
    """Enqueue the next run of every periodic job that has none pending or running."""
    from jobs.services import enqueue

    created = []
    now = timezone.now()
    for entry in _periodic.values():
        if Job.objects.filter(unicity=entry.unicity, status__in=ACTIVE_STATUSES).exists():
            continue
        last = Job.objects.filter(unicity=entry.unicity).order_by("-scheduled_at").first()
        due = now if last is None else max(
            now, last.scheduled_at + timedelta(seconds=entry.every_seconds))
        created.append(enqueue(entry.job_class, {}, unicity=entry.unicity, scheduled_at=due,
                               max_retries=0))
    return created
