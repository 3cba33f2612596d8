"""Heartbeats: a worker's sign of life on the rows it holds (the reaper gives back the running
jobs whose heartbeat stopped), and the relay of cancel requests to the handlers running."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from jobs.context import JobContext
from jobs.models import Job, JobStatus


def beat(worker_id: str, contexts: dict[object, JobContext], held: Iterable = ()) -> None:
    """Record the heartbeat of ``worker_id``'s running rows among the jobs running (``contexts``,
    by pk) and ``held`` (claimed ahead, or with a success being written), and mark the running
    ones whose cancel was requested."""
    running = list(contexts)
    Job.objects.filter(pk__in=[*running, *held], status=JobStatus.RUNNING,
                       worker_id=worker_id).update(heartbeat_at=timezone.now())
    for pk in Job.objects.filter(pk__in=running, cancel_requested_at__isnull=False) \
            .values_list("pk", flat=True):
        ctx = contexts.get(pk)
        if ctx is not None:
            ctx.mark_cancel_requested()
