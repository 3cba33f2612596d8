"""Observability: request ids, structured (JSON) logs, Prometheus metrics, readiness.

A job's lifecycle shows in both: ``job started`` / ``job finished`` log lines carrying its
``job_id`` (and every line its handler logs in between), and the job duration histogram on
``/metrics``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import orjson
import pytest
import structlog
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from jobs import services as job_services
from syncs.models import Sync, SyncRun
from syncservice.observability import logs, metrics
from tests.conftest import body
from tests.syncs import conftest as sync_fixtures

ROOT = Path(__file__).resolve().parent.parent
# The syncs tests' fixtures (a local JSON API, a connection, syncs on it).
connection, make_sync, shop, shop_config = (sync_fixtures.connection, sync_fixtures.make_sync,
                                            sync_fixtures.shop, sync_fixtures.shop_config)


# --- helpers --------------------------------------------------------------------------------

class JsonLines:
    """A handler on the root logger rendering with the service's JSON formatter."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(logs.formatter("json"))

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def events(self, event: str, **fields) -> list[dict]:
        return [line for line in self.lines() if line.get("event") == event
                and all(line.get(k) == v for k, v in fields.items())]


@pytest.fixture
def json_logs():
    capture = JsonLines()
    root = logging.getLogger()
    root.addHandler(capture.handler)
    try:
        yield capture
    finally:
        root.removeHandler(capture.handler)


def scrape(client: Client | None = None, **headers) -> dict[tuple, float]:
    """``/metrics`` as {(sample name, sorted labels): value}."""
    response = (client or Client()).get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def sample(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted((k, str(v)) for k, v in labels.items()))), 0.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- request ids and the access log ---------------------------------------------------------

@pytest.mark.django_db
def test_every_response_gets_a_request_id_and_an_incoming_one_is_kept():
    client = Client()
    first, second = client.get("/healthz"), client.get("/healthz")
    assert len(first["X-Request-ID"]) == 32 and first["X-Request-ID"] != second["X-Request-ID"]
    assert client.get("/healthz", HTTP_X_REQUEST_ID="edge-42.abc")["X-Request-ID"] == \
        "edge-42.abc"
    # Not an id (spaces, too long): replaced rather than echoed into logs and headers.
    for bad in ("two words", "x" * 201, "<script>"):
        assert client.get("/healthz", HTTP_X_REQUEST_ID=bad)["X-Request-ID"] != bad
    # Errors and unknown paths too.
    assert client.get("/no/such/path")["X-Request-ID"]


def test_access_log_line_is_json_with_request_context(api, project, json_logs):
    response = api.get("/api/v1/projects", HTTP_X_REQUEST_ID="req-1")
    assert response.status_code == 200
    (line,) = json_logs.events("request", request_id="req-1")
    assert line["logger"] == "syncservice.access"
    assert line["level"] == "info"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/projects", 200)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["project"] == str(project.pk)  # from the API key, once authenticated
    assert line["timestamp"].endswith("Z")
    assert list(line)[:4] == ["timestamp", "level", "logger", "event"]
    # The context is gone once the request is over.
    assert structlog.contextvars.get_contextvars() == {}


def test_unauthenticated_requests_have_no_project(client, json_logs):
    client.get("/api/v1/projects", HTTP_X_REQUEST_ID="anon-1")
    (line,) = json_logs.events("request", request_id="anon-1")
    assert line["status"] == 401 and "project" not in line


def test_stdlib_loggers_are_structured_and_carry_the_bound_context(json_logs):
    with structlog.contextvars.bound_contextvars(request_id="r-9", project="p-1"):
        logging.getLogger("exports.services").warning("wrote %s rows", 3,
                                                      extra={"export_id": "e-1"})
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("syncs.runner").exception("task failed")
    wrote, failed = json_logs.lines()[-2:]
    assert wrote["event"] == "wrote 3 rows" and wrote["level"] == "warning"
    assert (wrote["request_id"], wrote["project"], wrote["export_id"]) == ("r-9", "p-1", "e-1")
    assert wrote["logger"] == "exports.services"
    assert "ValueError: boom" in failed["exception"] and failed["request_id"] == "r-9"


def test_console_format_for_development():
    record = logging.LogRecord("jobs", logging.INFO, __file__, 1, "hello %s", ("dev",), None)
    line = logs.formatter("console").format(record)
    assert "hello dev" in line and not line.startswith("{")
    with pytest.raises(ValueError):
        logs.formatter("xml")


def test_logging_settings_route_every_logger_through_structlog(settings):
    assert settings.LOG_FORMAT == "json"  # tests run without DEBUG: the production default
    config = logs.build_logging("INFO", "console")
    assert config["formatters"]["structured"]["fmt"] == "console"
    assert config["loggers"]["django"]["handlers"] == []


# --- metrics --------------------------------------------------------------------------------

def test_metrics_expose_the_http_histogram(api):
    before = scrape()
    assert api.get("/api/v1/projects").status_code == 200
    after = scrape()
    labels = {"method": "GET", "view": "project-list", "status": 200}
    assert sample(after, "http_request_duration_seconds_count", **labels) == \
        sample(before, "http_request_duration_seconds_count", **labels) + 1
    assert sample(after, "http_request_duration_seconds_bucket", le="+Inf", **labels) >= 1


def test_jobs_by_status_queue_depth_and_oldest_age_come_from_the_database(project, make_job):
    now = timezone.now()
    for status, count in (("failed", 2), ("succeeded", 3), ("running", 1)):
        for _ in range(count):
            make_job(project, status=status)
    make_job(project, queue="exports", scheduled_at=now - timedelta(seconds=90))
    make_job(project, queue="exports", scheduled_at=now - timedelta(seconds=10))
    make_job(project, queue="default", scheduled_at=now + timedelta(hours=1))  # not due
    samples = scrape()
    assert sample(samples, "jobs_by_status", status="failed") == 2
    assert sample(samples, "jobs_by_status", status="succeeded") == 3
    assert sample(samples, "jobs_by_status", status="running") == 1
    assert sample(samples, "jobs_by_status", status="pending") == 3
    assert sample(samples, "jobs_by_status", status="cancelled") == 0  # always present
    assert sample(samples, "jobs_queue_depth", queue="exports") == 2
    assert ("jobs_queue_depth", (("queue", "default"),)) not in samples  # nothing due
    assert 90 <= sample(samples, "jobs_oldest_pending_age_seconds", queue="exports") < 150
    assert sample(samples, "syncservice_metrics_database_up") == 1
    assert sample(samples, "sync_runs_active", status="running") == 0


def test_a_database_failure_is_reported_not_raised(db, monkeypatch):
    def broken(self):
        raise RuntimeError("database down")

    monkeypatch.setattr(metrics.DatabaseCollector, "_collect", broken)
    samples = scrape()
    assert sample(samples, "syncservice_metrics_database_up") == 0
    assert ("jobs_by_status", (("status", "failed"),)) not in samples


def test_metrics_token_requires_a_bearer(db, settings):
    settings.METRICS_TOKEN = "s3cret"
    client = Client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert scrape(client, HTTP_AUTHORIZATION="Bearer s3cret")


def test_openmetrics_when_the_scraper_asks(db):
    response = Client().get("/metrics", HTTP_ACCEPT="application/openmetrics-text")
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.rstrip().endswith(b"# EOF")


# --- a job's lifecycle ------------------------------------------------------------------------

def test_a_job_run_logs_started_and_finished_and_feeds_the_histogram(project, run_job,
                                                                     json_logs):
    labels = {"job_class": "jobs.noop", "status": "succeeded"}
    before = sample(scrape(), "jobs_duration_seconds_count", **labels)
    job = job_services.enqueue("jobs.noop", {"run_id": "r-1"}, project=project)
    assert run_job(job.pk, worker_id="w-1").status == "succeeded"
    (started,) = json_logs.events("job started", job_id=str(job.pk))
    (finished,) = json_logs.events("job finished", job_id=str(job.pk))
    for line in (started, finished):
        assert (line["job_class"], line["worker_id"], line["queue"]) == ("jobs.noop", "w-1",
                                                                         "default")
        assert (line["project"], line["run_id"], line["attempt"]) == (str(project.pk), "r-1", 1)
        assert line["logger"] == "jobs.lifecycle"
    assert finished["status"] == "succeeded" and finished["duration_ms"] >= 0
    assert sample(scrape(), "jobs_duration_seconds_count", **labels) == before + 1
    assert structlog.contextvars.get_contextvars() == {}  # unbound after the job


def test_a_failing_job_logs_its_error_with_the_job_id(project, run_job, json_logs):
    labels = {"job_class": "jobs.fail", "status": "failed"}
    before = sample(scrape(), "jobs_duration_seconds_count", **labels)
    job = job_services.enqueue("jobs.fail", {}, project=project)
    assert run_job(job.pk).status == "failed"
    errors = [line for line in json_logs.lines()
              if line.get("job_id") == str(job.pk) and line["level"] == "error"]
    assert errors and "exception" in errors[0]  # the worker's traceback, with the job's id
    (finished,) = json_logs.events("job finished", job_id=str(job.pk))
    assert finished["status"] == "failed" and finished["level"] == "warning"
    assert sample(scrape(), "jobs_duration_seconds_count", **labels) == before + 1


def test_a_receiver_failure_never_fails_the_job(project, run_job, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("metrics backend down")

    monkeypatch.setattr(metrics.JOB_DURATION, "labels", explode)
    job = job_services.enqueue("jobs.noop", {}, project=project)
    assert run_job(job.pk).status == "succeeded"
    assert structlog.contextvars.get_contextvars() == {}


def test_a_sync_run_feeds_run_durations_and_rows_loaded(api, make_sync, shop, run_job,
                                                         json_logs):
    labels = {"provider": "http_api", "status": "succeeded", "execution_mode": "sequential"}
    before = scrape()
    sync = make_sync(entities=["orders", "customers"])
    response = api.send_document("post", f"/api/v1/syncs/{sync['id']}/trigger",
                                 "sync-triggers", {"run_mode": "incremental"})
    run = SyncRun.objects.get(pk=body(response)["data"]["id"])
    run_job(run.job_id)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    after = scrape()
    assert sample(after, "sync_run_duration_seconds_count", **labels) == \
        sample(before, "sync_run_duration_seconds_count", **labels) + 1
    load_mode = Sync.objects.get(pk=sync["id"]).table_bindings.first().load_mode
    assert sample(after, "sync_rows_loaded_total", load_mode=load_mode) == \
        sample(before, "sync_rows_loaded_total", load_mode=load_mode) + 10
    (line,) = json_logs.events("sync run finished", run_id=str(run.pk))
    assert (line["status"], line["rows_written"], line["provider"]) == ("succeeded", 10,
                                                                        "http_api")
    # Lines logged while the run's job ran carry the run id (from the job's payload).
    assert json_logs.events("job started", run_id=str(run.pk), job_id=str(run.job_id))


def test_a_cancelled_run_is_counted(project, make_sync, monkeypatch):
    from syncs import runner

    sync = Sync.objects.get(pk=make_sync()["id"])
    run = SyncRun.objects.create(project=sync.project, sync=sync, status="running",
                                 started_at=timezone.now() - timedelta(seconds=5))
    labels = {"provider": "http_api", "status": "cancelled", "execution_mode": "sequential"}
    before = sample(scrape(), "sync_run_duration_seconds_count", **labels)
    runner.close_cancelled(run.pk)
    assert sample(scrape(), "sync_run_duration_seconds_count", **labels) == before + 1


@pytest.mark.usefixtures("media_storage")
def test_an_export_counts_its_records(api, project, make_job, run_job):
    for _ in range(4):
        make_job(project, "exports.demo", status="succeeded")
    before = scrape()
    response = api.send_document("post", "/api/v1/exports/export", "exports",
                                 {"resource_type": "jobs", "format": "csv",
                                  "filters": {"job_class": "exports.demo"}})
    assert response.status_code == 202, response.content
    from exports.models import Export

    export = Export.objects.get(pk=body(response)["data"]["id"])
    run_job(export.job_id)
    after = scrape()
    assert sample(after, "exports_records_total", format="csv") == \
        sample(before, "exports_records_total", format="csv") + 4
    assert sample(after, "exports_finished_total", format="csv", status="success") == \
        sample(before, "exports_finished_total", format="csv", status="success") + 1


# --- worker processes: their own exporter, multiprocess mode ----------------------------------

def test_a_worker_serves_its_own_metrics_on_metrics_port(settings, project, run_job):
    settings.METRICS_PORT = free_port()
    settings.METRICS_ADDR = "127.0.0.1"
    if not metrics.start_exporter_if_configured():
        pytest.skip("an exporter was already started in this process")
    job = job_services.enqueue("jobs.noop", {}, project=project)
    run_job(job.pk)
    text = httpx.get(f"http://127.0.0.1:{settings.METRICS_PORT}/metrics", timeout=5).text
    assert 'jobs_duration_seconds_count{job_class="jobs.noop",status="succeeded"}' in text
    assert "jobs_by_status" not in text  # database gauges: from the web's /metrics only
    assert metrics.start_exporter_if_configured()  # once per process


MULTIPROCESS_SCRIPT = """
import django, sys
django.setup()
from syncservice.observability import metrics
metrics.observe_request("GET", "probe", 200, 0.01)
if sys.argv[1] == "scrape":
    from prometheus_client import generate_latest
    print(generate_latest(metrics.registry(database=False)).decode())
"""


def test_multiprocess_mode_adds_up_every_process(tmp_path):
    """PROMETHEUS_MULTIPROC_DIR (gunicorn workers, Celery's pool): each process writes its
    values to files; a scrape from any of them adds them all up."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for mode in ("observe", "observe", "scrape"):
        result = subprocess.run([sys.executable, "-c", MULTIPROCESS_SCRIPT, mode], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    assert 'http_request_duration_seconds_count{method="GET",status="200",view="probe"} 3.0' \
        in result.stdout


# --- readiness --------------------------------------------------------------------------------

@pytest.mark.usefixtures("media_storage")
def test_readyz_is_ok_when_everything_answers(db, settings):
    settings.JOBS_BACKEND = "native"
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    assert orjson.loads(response.content) == {
        "status": "ok", "checks": {"database": "ok", "storage": "ok"}}


@pytest.mark.usefixtures("media_storage")
def test_readyz_probe_leaves_no_file(db, settings, media_storage):
    assert Client().get("/readyz").status_code == 200
    assert list(media_storage.iterdir()) == []


def test_readyz_is_503_when_the_storage_is_broken(db, settings, tmp_path):
    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("in the way")
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(not_a_directory)}}}
    response = Client().get("/readyz")
    assert response.status_code == 503
    document = orjson.loads(response.content)
    assert document["status"] == "error" and document["failing"] == ["storage"]
    assert document["checks"]["database"] == "ok"
    assert document["checks"]["storage"].startswith("error: ")
    # Liveness does not depend on storage.
    assert Client().get("/healthz").status_code == 200


@pytest.mark.usefixtures("media_storage")
def test_readyz_is_503_when_the_celery_broker_is_down(db, settings):
    settings.JOBS_BACKEND = "celery"
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    started = time.monotonic()
    response = Client().get("/readyz")
    assert time.monotonic() - started < 10
    assert response.status_code == 503
    document = orjson.loads(response.content)
    assert document["failing"] == ["broker"]
    assert document["checks"]["broker"].startswith("error: ")


@pytest.mark.usefixtures("media_storage")
def test_readyz_checks_a_live_broker(db, settings):
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    settings.JOBS_BACKEND = "celery"
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    assert orjson.loads(response.content)["checks"]["broker"] == "ok"


def test_readyz_is_503_when_the_database_is_down(db, monkeypatch):
    from django.db.backends.utils import CursorWrapper

    def down(self, sql, params=None):
        raise RuntimeError("connection refused")

    with monkeypatch.context() as patch:  # undone before the database teardown
        patch.setattr(CursorWrapper, "execute", down)
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert "database" in orjson.loads(response.content)["failing"]


def test_health_and_metrics_need_no_credentials(db):
    client = Client()
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code in (200, 503), path



@pytest.mark.usefixtures("media_storage")
def test_readyz_checks_a_separate_warehouse_database(db, settings):
    settings.WAREHOUSE_DATABASE_ALIAS = "warehouse-that-is-not-configured"
    response = Client().get("/readyz")
    assert response.status_code == 503
    document = orjson.loads(response.content)
    assert document["failing"] == ["warehouse"] and document["checks"]["database"] == "ok"
