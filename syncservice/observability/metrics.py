"""Prometheus metrics, served as text at ``GET /metrics``.

Two kinds:

- Observed in the process where things happen (histograms and counters): HTTP requests
  (the middleware), job durations (``job_finished``), sync run durations (``run_finished``),
  rows loaded (``rows_loaded``), finished exports and their records (``job_finished`` of an
  export build), and what periodic passes skipped because it could not be evaluated
  (``syncs_schedule_errors_total``, ``periodic_sweep_errors_total``: counted where it
  happens, in the worker or scheduler process).
- Read from the database at scrape time by :class:`DatabaseCollector` (gauges): what the
  apps register with :func:`register_database_gauges` (``jobs.observability``: jobs by
  status, queue depth and the age of the oldest due job per queue; ``syncs.metrics``: active
  sync runs, ``syncs_stale``). They are the same whichever process answers, so scrape them
  from the web only.

Worker processes (``run_worker``, ``run_scheduler``, Celery) serve their own counters on
``METRICS_PORT`` (a small HTTP server started when the setting is set). With several
processes behind one port (gunicorn workers, Celery's prefork pool) set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory: prometheus_client then keeps values in
files there and each scrape adds up every process's (``multiprocess`` mode).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger("syncservice.metrics")

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Multiprocess mode keeps values in files there: the directory must exist.
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

# --- observed -------------------------------------------------------------------------------

HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds", "HTTP requests by method, view and status",
    ["method", "view", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
JOB_DURATION = Histogram(
    "jobs_duration_seconds",
    "Job executions by job class and outcome (pending: released or retrying; lost: taken "
    "from the worker)", ["job_class", "status"],
    buckets=(0.05, 0.25, 1, 5, 15, 60, 300, 900, 1800, 3600, 3 * 3600, 12 * 3600))
SYNC_RUN_DURATION = Histogram(
    "sync_run_duration_seconds", "Finished sync runs, from start to completion",
    ["provider", "status", "execution_mode"],
    buckets=(1, 5, 15, 60, 300, 900, 1800, 3600, 3 * 3600, 12 * 3600, 24 * 3600))
ROWS_LOADED = Counter(
    "sync_rows_loaded", "Rows written into warehouse tables (committed batches)",
    ["load_mode"])
EXPORTS_FINISHED = Counter(
    "exports_finished", "Export builds finished, by format and export status",
    ["format", "status"])
EXPORT_RECORDS = Counter(
    "exports_records", "Records written by successful exports", ["format"])
# Periodic passes handle each item on its own: one that cannot be evaluated is skipped with
# a reason (logged, and on the sync as last_error) and counted here; the pass goes on.
SCHEDULE_ERRORS = Counter(
    "syncs_schedule_errors",
    "Scheduled syncs a scheduler pass could not evaluate (marked error, slot consumed), by "
    "reason", ["reason"])
SWEEP_ERRORS = Counter(
    "periodic_sweep_errors",
    "Items a periodic sweep skipped because they raised (stalled runs, their auto-resume, "
    "expired exports), by sweep and reason", ["sweep", "reason"])


def observe_request(method: str, view: str, status: int, seconds: float) -> None:
    HTTP_REQUEST_DURATION.labels(method=method, view=view, status=str(status)).observe(seconds)


# --- read from the database at scrape time ----------------------------------------------

# Gauges apps read from the database at scrape time (registered in their AppConfig.ready):
# (describe, collect) pairs; describe returns the empty families and must not query.
_database_gauges: list[tuple[Callable[[], Iterable[Metric]],
                             Callable[[], Iterable[Metric]]]] = []


def register_database_gauges(describe: Callable[[], Iterable[Metric]],
                             collect: Callable[[], Iterable[Metric]]) -> None:
    """Add an app's scrape-time gauges to ``/metrics``: ``collect`` runs a few cheap queries
    and returns the filled families; a failure marks the scrape's database as down."""
    if (describe, collect) not in _database_gauges:
        _database_gauges.append((describe, collect))


class DatabaseCollector(Collector):
    """The apps' registered gauges (cheap aggregates, a query or two each: jobs by status,
    queue depth, active sync runs, ...), in the order the apps registered them, and whether
    the scrape's queries succeeded."""

    def describe(self) -> Iterable[Metric]:
        # Names only: registering must not query the database.
        return [*(family for describe, _ in _database_gauges for family in describe()),
                self._up()]

    @staticmethod
    def _up() -> GaugeMetricFamily:
        return GaugeMetricFamily("syncservice_metrics_database_up",
                                 "1 when the scrape-time database queries succeeded")

    def collect(self) -> Iterable[Metric]:
        try:
            families = self._collect()
        except Exception:  # noqa: BLE001 - a scrape reports the failure, never raises
            logger.exception("Collecting database metrics failed")
            up = self._up()
            up.add_metric([], 0)
            return [up]
        up = self._up()
        up.add_metric([], 1)
        return [*families, up]

    def _collect(self) -> list[Metric]:
        return [family for _, collect in _database_gauges for family in collect()]


DATABASE_COLLECTOR = DatabaseCollector()


# --- exposition -----------------------------------------------------------------------------

def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def registry(*, database: bool = True) -> CollectorRegistry:
    """What a scrape reads: this process's metrics (or, in multiprocess mode, every
    process's, added up from the files), plus the database gauges when ``database``."""
    scoped = CollectorRegistry()
    if multiprocess_dir() is None:
        scoped.register(REGISTRY)
    else:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(scoped)
    if database:
        scoped.register(DATABASE_COLLECTOR)
    return scoped


_exporter_lock = threading.Lock()
_exporter_started = False


def start_exporter_if_configured() -> bool:
    """Serve this process's metrics on ``METRICS_PORT`` (workers, scheduler, Celery): once
    per process; a port already in use (a ``manage.py shell`` beside a worker) is skipped."""
    global _exporter_started
    from django.conf import settings

    port = getattr(settings, "METRICS_PORT", None)
    if not port:
        return False
    with _exporter_lock:
        if _exporter_started:
            return True
        try:
            from prometheus_client import start_http_server

            start_http_server(int(port), addr=getattr(settings, "METRICS_ADDR", "0.0.0.0"),
                              registry=registry(database=False))
        except OSError as exc:
            logger.info("Metrics exporter not started on port %s: %s", port, exc)
            return False
        _exporter_started = True
        _forget_other_processes()
        logger.info("Serving metrics on port %s", port)
        return True


def _forget_other_processes() -> None:
    """Multiprocess mode: the files of earlier processes (a previous container run) would
    be added up forever. The exporter's process starts before its pool (Celery forks its
    children after Django is set up), so anything but its own files is stale. Only the
    process that got the port does this: a second one (a shell beside the worker) never
    reaches here."""
    directory = multiprocess_dir()
    if directory is None:
        return
    for path in Path(directory).glob("*.db"):
        if not path.stem.endswith(f"_{os.getpid()}"):
            path.unlink(missing_ok=True)
