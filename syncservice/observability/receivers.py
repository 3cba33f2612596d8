"""Signal receivers: the job, sync run and loader lifecycle as log lines, context and metrics.

While a job runs (between ``job_started`` and ``job_finished``, in the thread that runs it),
``job_id``, ``job_class``, ``worker_id``, ``queue``, ``attempt``, ``project`` and the ids in
its payload (``run_id``, ``export_id``, ``sync_id``) are bound into the log context, so every
line its handler logs carries them. A receiver never breaks the thing it observes: each one
logs its own failure and returns.
"""

from __future__ import annotations

import functools
import logging
import threading

import structlog

from syncservice.observability import metrics

job_log = structlog.stdlib.get_logger("jobs.lifecycle")
run_log = structlog.stdlib.get_logger("syncs.lifecycle")
logger = logging.getLogger("syncservice.observability")

PAYLOAD_IDS = ("run_id", "export_id", "sync_id")

_bound = threading.local()  # per thread: a stack of context tokens, one per running job


def _safe(receiver):
    @functools.wraps(receiver)
    def wrapper(*args, **kwargs):
        try:
            receiver(*args, **kwargs)
        except Exception:  # noqa: BLE001 - observing must never fail the observed
            logger.exception("Observability receiver %s failed", receiver.__name__)

    return wrapper


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


@_safe
def on_job_started(sender, job, worker_id=None, **kwargs) -> None:
    tokens: dict = {}
    try:
        tokens = structlog.contextvars.bind_contextvars(**_job_context(job, worker_id))
        job_log.info("job started")
    finally:
        _push(tokens)  # always, so job_finished pops this job's and no other's


@_safe
def on_job_finished(sender, job, status, duration=None, worker_id=None, **kwargs) -> None:
    try:
        status = str(status)
        if duration is not None:
            metrics.JOB_DURATION.labels(job_class=job.job_class, status=status).observe(duration)
        log = job_log.warning if status in ("failed", "lost", "error") else job_log.info
        log("job finished", status=status,
            duration_ms=round(duration * 1000, 2) if duration is not None else None)
        if job.job_class.startswith("exports."):
            _count_export(job)
    finally:
        _pop()


def _count_export(job) -> None:
    from exports.models import Export
    from exports.services import BUILD_JOB

    if job.job_class != BUILD_JOB:
        return
    export_id = (job.payload or {}).get("export_id")
    if not export_id:
        return
    row = Export.objects.filter(pk=export_id).values("format", "status",
                                                     "records_count").first()
    if row is None or row["status"] in ("pending", "processing"):
        return  # released or retrying: counted when it really ends
    metrics.EXPORTS_FINISHED.labels(format=row["format"], status=row["status"]).inc()
    if row["status"] == "success" and row["records_count"]:
        metrics.EXPORT_RECORDS.labels(format=row["format"]).inc(row["records_count"])


@_safe
def on_run_finished(sender, run_id=None, run=None, **kwargs) -> None:
    from syncs.models import SyncRun

    if run is None:
        run = SyncRun.objects.select_related("sync__connection").filter(pk=run_id).first()
    if run is None:
        return
    provider = run.sync.connection.provider
    duration = None
    if run.started_at is not None and run.completed_at is not None:
        duration = max(0.0, (run.completed_at - run.started_at).total_seconds())
        metrics.SYNC_RUN_DURATION.labels(provider=provider, status=run.status,
                                         execution_mode=run.execution_mode).observe(duration)
    log = run_log.info if run.status == SyncRun.Status.SUCCEEDED else run_log.warning
    log("sync run finished", run_id=str(run.pk), sync_id=str(run.sync_id), provider=provider,
        status=run.status, result_class=run.result_class, attempt=run.attempt_number,
        rows_written=(run.summary or {}).get("rows_written", 0),
        duration_ms=round(duration * 1000, 2) if duration is not None else None)


@_safe
def on_rows_loaded(sender, binding=None, rows=0, **kwargs) -> None:
    if rows:
        load_mode = getattr(binding, "load_mode", "") or "unknown"
        metrics.ROWS_LOADED.labels(load_mode=load_mode).inc(rows)


def on_celery_setup_logging(**kwargs) -> None:
    """Celery configures logging only when nobody answers this signal: Django's ``LOGGING``
    (structured) is already in place, so Celery keeps it."""


def connect() -> None:
    from jobs.signals import job_finished, job_started
    from syncs.signals import rows_loaded, run_finished

    job_started.connect(on_job_started, dispatch_uid="observability.job_started")
    job_finished.connect(on_job_finished, dispatch_uid="observability.job_finished")
    run_finished.connect(on_run_finished, dispatch_uid="observability.run_finished")
    rows_loaded.connect(on_rows_loaded, dispatch_uid="observability.rows_loaded")
    try:
        from celery.signals import setup_logging
    except ImportError:  # pragma: no cover - celery is a dependency
        return
    setup_logging.connect(on_celery_setup_logging, weak=False,
                          dispatch_uid="observability.celery_logging")
