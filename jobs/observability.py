"""The job lifecycle as log lines, log context and metrics (connected in ``JobsConfig.ready``).

While a job runs (between ``job_started`` and ``job_finished``, in the thread that runs it),
``job_id``, ``job_class``, ``worker_id``, ``queue``, ``attempt``, ``project`` and the ids in
its payload (``run_id``, ``export_id``, ``sync_id``) are bound into the log context, so every
line its handler logs carries them. The queue's scrape-time gauges (jobs by status, queue
depth, the oldest due job's age) are registered with the observability app's collector.
"""

from __future__ import annotations

import threading

import structlog
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from jobs.models import Job, JobStatus
from jobs.signals import job_finished, job_started
from syncservice.observability import metrics
from syncservice.observability.receivers import never_raises

job_log = structlog.stdlib.get_logger("jobs.lifecycle")

PAYLOAD_IDS = ("run_id", "export_id", "sync_id")

_bound = threading.local()  # per thread: a stack of context tokens, one per running job


def _job_context(job, worker_id: str | None) -> dict:
    context = {"job_id": str(job.pk), "job_class": job.job_class,
               "worker_id": worker_id or job.worker_id, "queue": job.queue,
               "attempt": job.retry_count + 1}
    if job.project_id is not None:
        context["project"] = str(job.project_id)
    payload = job.payload if isinstance(job.payload, dict) else {}
    for key in PAYLOAD_IDS:
        if payload.get(key):
            context[key] = str(payload[key])
    return context


def _push(tokens: dict) -> None:
    stack = getattr(_bound, "stack", None)
    if stack is None:
        stack = _bound.stack = []
    stack.append(tokens)


def _pop() -> None:
    stack = getattr(_bound, "stack", None)
    if not stack:
        return
    tokens = stack.pop()
    try:
        structlog.contextvars.reset_contextvars(**tokens)
    except ValueError:  # bound in another context: forget the keys instead
        structlog.contextvars.unbind_contextvars(*tokens)


@never_raises
def on_job_started(sender, job, worker_id=None, **kwargs) -> None:
    tokens: dict = {}
    try:
        tokens = structlog.contextvars.bind_contextvars(**_job_context(job, worker_id))
        job_log.info("job started")
    finally:
        _push(tokens)  # always, so job_finished pops this job's and no other's


@never_raises
def on_job_finished(sender, job, status, duration=None, worker_id=None, **kwargs) -> None:
    try:
        status = str(status)
        if duration is not None:
            metrics.JOB_DURATION.labels(job_class=job.job_class, status=status).observe(duration)
        log = job_log.warning if status in ("failed", "lost", "error") else job_log.info
        log("job finished", status=status,
            duration_ms=round(duration * 1000, 2) if duration is not None else None)
    finally:
        _pop()


# --- scrape-time gauges -----------------------------------------------------------------------

def _jobs_by_status() -> GaugeMetricFamily:
    return GaugeMetricFamily("jobs_by_status", "Jobs in the queue table by status",
                             labels=["status"])


def _queue_depth() -> GaugeMetricFamily:
    return GaugeMetricFamily("jobs_queue_depth", "Pending jobs that are due, per queue",
                             labels=["queue"])


def _oldest_age() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "jobs_oldest_pending_age_seconds",
        "How long the oldest due pending job of each queue has waited since it was due",
        labels=["queue"])


def describe() -> list[GaugeMetricFamily]:
    return [_jobs_by_status(), _queue_depth(), _oldest_age()]


def collect() -> list[GaugeMetricFamily]:
    """Two queries: jobs by status (the status index), then due pending jobs per queue with
    the oldest one's due time (the partial claim index)."""
    counts = dict.fromkeys(JobStatus.values, 0)  # every status has a sample, 0 included
    counts.update(Job.objects.order_by().values_list("status").annotate(n=Count("id")))
    by_status = _jobs_by_status()
    for status, count in counts.items():
        by_status.add_metric([status], count)

    now = timezone.now()
    depth, oldest = _queue_depth(), _oldest_age()
    due = (Job.objects.filter(status=JobStatus.PENDING, scheduled_at__lte=now)
           .order_by().values("queue").annotate(n=Count("id"), due=Min("scheduled_at")))
    for row in due:
        depth.add_metric([row["queue"]], row["n"])
        oldest.add_metric([row["queue"]], max(0.0, (now - row["due"]).total_seconds()))
    return [by_status, depth, oldest]


def connect() -> None:
    job_started.connect(on_job_started, dispatch_uid="observability.job_started")
    job_finished.connect(on_job_finished, dispatch_uid="observability.job_finished")
    metrics.register_database_gauges(describe, collect)
