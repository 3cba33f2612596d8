"""The Celery execution backend (``JOBS_BACKEND = "celery"``), for deployments that outgrow one
machine.

``backends.dispatch`` calls :func:`dispatch`, which sends the job after commit; the
``jobs.run_job`` task claims the same row by id (atomically: a duplicate or stale message finds
the job no longer pending and does nothing) and runs it with the native worker's ``execute``,
so handlers, retries with backoff, progress and cancellation follow the same rules. The Job
row stays the source of truth; Celery only carries job ids. ``jobs.reap`` queues periodic jobs
and requeues stalled ones; ``celery beat`` runs it every 30 seconds.

Run from the project root::

    celery -A jobs.celery worker --loglevel=INFO
    celery -A jobs.celery beat --loglevel=INFO

Configuration comes from the Django settings prefixed ``CELERY_`` (``CELERY_BROKER_URL``,
``CELERY_TASK_ALWAYS_EAGER``, ...), read when a task is sent, so overridden settings apply.
With ``task_always_eager`` the task runs at once in the sending process and, as always in
Celery's eager mode, an ``eta`` is not waited for.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime

from celery import Celery
from django.db import transaction
from django.utils import timezone

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syncservice.settings")

logger = logging.getLogger("jobs.celery")

REAP_EVERY_SECONDS = 30.0

# Set before the app is created: Celery's Django fix-up (installed when the app is made, if
# DJANGO_SETTINGS_MODULE is set) calls django.setup() when a worker or beat starts, and
# closes database connections around each task.
app = Celery("jobs")
# Lazy: the Django settings object is looked up key by key whenever Celery reads its
# configuration, so pytest-django's ``settings`` fixture and override_settings apply.
app.config_from_object("django.conf:settings", namespace="CELERY")


def _setup_django() -> None:
    """Make the ORM usable in processes that did not start through Django (a Celery worker or
    beat started before the fix-up ran, a script calling the task eagerly)."""
    from django.apps import apps

    if not apps.ready:
        import django

        django.setup()


# --- sending -------------------------------------------------------------------------------

_publisher_lock = threading.Lock()


def _use_current_broker() -> None:
    """Celery keeps its broker connection pool for the life of the app, made on first use
    (even an eager send makes one); when the configured broker URL is not the pool's any more
    (a test overriding CELERY_BROKER_URL), drop the pool so this send uses the current broker.
    kombu keeps one pool per broker, so switching back reuses the old connections."""
    wanted = app.connection_for_write().as_uri(include_password=True)
    with _publisher_lock:
        pools = [app._pool]
        producers = app.amqp._producer_pool
        if producers is not None:
            pools.append(producers.connections)
        if any(pool is not None and pool.connection.as_uri(include_password=True) != wanted
               for pool in pools):
            # What Celery itself does after a fork (Celery._after_fork), without the signal.
            app._pool = None
            app.amqp._producer_pool = None


def dispatch(job) -> None:
    """The backend's dispatch (see ``jobs.backends``): ``send_job`` once the transaction that
    made the job pending commits."""
    job_id, eta = str(job.pk), job.scheduled_at
    # robust: a broker outage is logged, not turned into an error of the request that
    # enqueued; the row stays pending until dispatched again (the run_now signal does).
    transaction.on_commit(lambda: send_job(job_id, eta), robust=True)


def send_job(job_id: str, eta: datetime | None = None) -> None:
    """Send ``jobs.run_job(job_id)``: at ``eta`` when it is in the future (scheduled jobs,
    retries after a backoff), at once otherwise."""
    options = {}
    if eta is not None and eta > timezone.now():
        options["eta"] = eta
    _use_current_broker()
    run_job.apply_async(args=[str(job_id)], **options)


# --- the worker side -----------------------------------------------------------------------

class _Heartbeat(threading.Thread):
    """While one job runs: every ``interval`` seconds, record its heartbeat (the reaper's sign
    of life) and relay a cancel request to its JobContext, as the native worker's keeper does
    (``jobs.heartbeats``)."""

    def __init__(self, job_id, worker_id: str, contexts: dict, interval: float) -> None:
        super().__init__(name=f"job-heartbeat-{job_id}", daemon=True)
        self.job_id = job_id
        self.worker_id = worker_id
        self.contexts = contexts
        self.interval = interval
        self.done = threading.Event()

    def run(self) -> None:
        from django.db import connections

        try:
            while not self.done.wait(self.interval):
                self.beat()
        finally:
            connections.close_all()  # this thread's connections only

    def beat(self) -> None:
        from django.db import close_old_connections

        from jobs import heartbeats

        try:
            close_old_connections()
            heartbeats.beat(self.worker_id, self.contexts, [self.job_id])
        except Exception:  # noqa: BLE001 - a missed beat is retried at the next one
            logger.exception("Heartbeat of job %s failed", self.job_id)

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=self.interval + 5)


# acks_late: a message is acknowledged only once its task has returned, so a worker that dies
# between receiving a message and claiming the job does not lose the job (the broker delivers
# the message again). Redelivered or duplicate messages are harmless: the claim is atomic.
@app.task(name="jobs.run_job", bind=True, acks_late=True, ignore_result=True)
def run_job(self, job_id: str) -> str | None:
    """Claim pending job ``job_id`` and run it; returns its final status, or None when it was
    not pending any more (cancelled, deleted, or taken by another message)."""
    _setup_django()
    from django.conf import settings
    from django.db import connection

    from jobs.claiming import claim_by_id
    from jobs.execution import execute, new_worker_id
    from jobs.models import Job, JobStatus

    if not self.request.is_eager:
        scheduled_at = Job.objects.filter(pk=job_id, status=JobStatus.PENDING).values_list(
            "scheduled_at", flat=True).first()
        if scheduled_at is None:
            return None
        if scheduled_at > timezone.now():
            # An early message (e.g. sent for an earlier schedule of a job since retried with
            # a backoff): never run a job before its time; come back then.
            send_job(job_id, scheduled_at)
            return "rescheduled"
    worker_id = f"celery:{new_worker_id()}"
    job = claim_by_id(job_id, worker_id)
    if job is None:
        return None
    contexts: dict = {}
    heartbeat = None
    # Inside a transaction (an eager task run in the sender's transaction) the claimed row is
    # not visible to other connections: there is nothing for a heartbeat to update.
    if not connection.in_atomic_block:
        heartbeat = _Heartbeat(job.pk, worker_id, contexts, settings.JOBS_HEARTBEAT_SECONDS)
        heartbeat.start()
    try:
        status = execute(job, worker_id, None, contexts)
    finally:
        if heartbeat is not None:
            heartbeat.stop()
    logger.info("Job %s (%s) -> %s", job.pk, job.job_class, status)
    return str(status)


@app.task(name="jobs.reap", ignore_result=True)
def reap() -> int:
    """What the native worker's keeper does besides heartbeats: queue the next run of every
    periodic job, then requeue or fail the running jobs whose heartbeat has stopped; returns
    how many were reaped."""
    _setup_django()
    from jobs.periodic import ensure_periodic_jobs
    from jobs.reaping import reap_as_the_only_reaper

    ensure_periodic_jobs()
    # One reaper at a time, shared with the native workers' keepers.
    return len(reap_as_the_only_reaper() or [])


# `celery -A jobs.celery beat` sends jobs.reap every 30 s; a reap not picked up within the
# period is dropped rather than piling up behind busy workers.
app.add_periodic_task(REAP_EVERY_SECONDS, reap.s(), name="jobs.reap",
                      expires=REAP_EVERY_SECONDS)
