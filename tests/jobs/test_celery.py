"""The Celery backend (JOBS_BACKEND = "celery"): eagerly in the test process, then for real with
``celery -A jobs.celery worker`` (and ``beat``) subprocesses on Redis and the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from jobs import services
from jobs.celery import REAP_EVERY_SECONDS, app, reap, run_job, send_job
from jobs.models import Job
from jobs.periodic import registered_periodic_jobs
from jobs.registry import job_handler

ROOT = Path(__file__).resolve().parents[2]
REDIS_HOST = os.environ.get("CELERY_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("CELERY_TEST_REDIS_PORT", "6379"))
# Each run of this module takes a Redis database of its own (never db 0, the default broker):
# the first empty one in which it can set this key.
REDIS_LOCK_KEY = "syncservice-tests:celery-db-owner"
# Where nothing listens: eager sends must not need a broker, and a send that went to the wrong
# broker fails instead of leaving a message somewhere.
NO_BROKER = "redis://127.0.0.1:1/0"
WORKER_ENV = {"JOBS_HEARTBEAT_SECONDS": "0.2", "JOBS_RETRY_BASE_SECONDS": "2"}


def wait_for(predicate, timeout: float, what: str, process=None):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds
    (or as soon as ``process``, a worker, has died)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{process} died waiting for {what}:\n{process.log_tail()}")
        if time.monotonic() > deadline:
            tail = process.log_tail() if process is not None else ""
            raise AssertionError(f"Timed out after {timeout}s waiting for {what}\n{tail}")
        time.sleep(0.05)


def job_row(job) -> Job:
    return Job.objects.get(pk=job.pk)


# --- eager: the task runs in the sending process, inside the test's transaction ---------------

@pytest.fixture
def eager(settings):
    settings.JOBS_BACKEND = "celery"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_TASK_EAGER_PROPAGATES = True  # a bug in the task fails the test
    settings.CELERY_BROKER_URL = NO_BROKER


@pytest.mark.django_db
def test_eager_jobs_run_on_commit_and_succeed(eager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        noop = services.enqueue("jobs.noop")
        sleep = services.enqueue("jobs.sleep", {"seconds": 0.05, "steps": 5})
        # Nothing runs before the enqueueing transaction commits.
        assert job_row(noop).status == "pending"
    assert len(callbacks) == 2
    noop, sleep = job_row(noop), job_row(sleep)
    assert (noop.status, noop.progress, noop.error) == ("succeeded", 100, "")
    assert noop.worker_id.startswith("celery:")
    assert noop.started_at is not None and noop.finished_at >= noop.started_at
    assert (sleep.status, sleep.progress) == ("succeeded", 100)
    assert sleep.result == {"slept_seconds": 0.05}


@pytest.mark.django_db
def test_eager_failing_job_without_retries_ends_failed(eager,
                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.enqueue("jobs.fail", {"message": "boom"}, max_retries=0)
    job = job_row(job)
    assert (job.status, job.retry_count) == ("failed", 0)
    assert job.error == "RuntimeError: boom"
    assert job.error_details["type"] == "builtins.RuntimeError"
    assert "boom" in job.error_traceback and "traceback" not in job.error_details
    assert job.finished_at is not None


@pytest.mark.django_db
def test_eager_job_cancelled_before_its_task_runs_is_not_run(eager,
                                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        job = services.enqueue("jobs.sleep", {"seconds": 5, "steps": 1})
    services.cancel(job)
    assert len(callbacks) == 1
    callbacks[0]()  # the commit hook: send_job, run at once (eagerly)
    job = job_row(job)
    assert job.status == "cancelled"
    assert (job.started_at, job.worker_id, job.progress, job.result) == (None, "", 0, None)
    # The task itself finds nothing to claim.
    assert run_job.apply(args=[str(job.pk)]).get() is None


@job_handler("tests.celery.cancel_relay_probe")
def cancel_relay_probe(ctx, payload):
    """Requests its own cancel, waits for two heartbeats, withdraws the request, then reports
    whether its context still knows: only the heartbeat thread's relay can have told it."""
    requested = timezone.now()
    services.cancel(Job.objects.get(pk=ctx.job_id))

    def beat_after(moment):
        return lambda: Job.objects.filter(pk=ctx.job_id, heartbeat_at__gt=moment).values_list(
            "heartbeat_at", flat=True).first()

    first = wait_for(beat_after(requested), 10, "a heartbeat after the cancel request")
    wait_for(beat_after(first), 10, "a second heartbeat")  # the first one's relay is done
    Job.objects.filter(pk=ctx.job_id).update(cancel_requested_at=None)
    return {"cancel_seen": ctx.cancelled}


@pytest.mark.django_db(transaction=True)
def test_task_heartbeats_and_relays_cancel_requests_to_the_context(settings):
    settings.JOBS_BACKEND = "native"  # enqueue only: the test runs the task itself
    settings.JOBS_HEARTBEAT_SECONDS = 0.1
    job = services.enqueue("tests.celery.cancel_relay_probe")
    started = timezone.now()
    assert run_job.apply(args=[str(job.pk)]).get() == "succeeded"
    job = job_row(job)
    assert job.result == {"cancel_seen": True}
    assert job.heartbeat_at > started


@pytest.mark.django_db
def test_beat_schedules_the_reaper_every_30_seconds_and_it_reaps():
    entry = app.conf.beat_schedule["jobs.reap"]
    assert entry["task"] == "jobs.reap"
    assert entry["schedule"] == REAP_EVERY_SECONDS == 30
    stalled = Job.objects.create(job_class="jobs.noop", status="running", worker_id="gone",
                                 started_at=timezone.now() - timedelta(hours=1),
                                 heartbeat_at=timezone.now() - timedelta(hours=1),
                                 max_retries=0)
    alive = Job.objects.create(job_class="jobs.noop", status="running", worker_id="alive",
                               started_at=timezone.now(), heartbeat_at=timezone.now())
    assert reap.apply().get() == 1
    assert (job_row(stalled).status, job_row(stalled).error) == ("failed", "heartbeat_timeout")
    assert job_row(alive).status == "running"
    # Like the native worker's keeper, it also queues the next run of each periodic job.
    for entry in registered_periodic_jobs():
        assert Job.objects.filter(unicity=entry.unicity, status="pending").exists(), entry


# --- for real: Celery worker subprocesses on Redis and the test database -----------------------

def worker_database_url() -> str:
    """The test database, as a DATABASE_URL for a subprocess."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(db["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            pytest.skip("the SQLite test database is in memory; a worker process can't see it")
        return f"sqlite:///{Path(name).resolve()}"
    if connection.vendor != "postgresql":
        pytest.skip(f"no DATABASE_URL form for {connection.vendor} in this test")
    auth = quote(db["USER"] or "postgres", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    host = quote(host, safe="") if host.startswith("/") else host
    return f"postgres://{auth}@{host}:{db.get('PORT') or 5432}/{quote(db['NAME'], safe='')}"


@pytest.fixture(scope="module")
def redis_db():
    """A Redis database of our own: yields its URL; everything in it is deleted afterwards."""
    redis = pytest.importorskip("redis")
    probe = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=2,
                        socket_timeout=5)
    try:
        probe.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis is unreachable at {REDIS_HOST}:{REDIS_PORT} ({exc}); the real "
                    "Celery worker tests need it")
    finally:
        probe.close()
    token = uuid.uuid4().hex
    client = None
    for number in range(1, 16):
        candidate = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number,
                                socket_connect_timeout=2, socket_timeout=5)
        try:
            if candidate.set(REDIS_LOCK_KEY, token, nx=True, ex=3600):
                if candidate.dbsize() == 1:
                    client = candidate
                    break
                # In use by something else: leave it alone.
                if candidate.get(REDIS_LOCK_KEY) == token.encode():
                    candidate.delete(REDIS_LOCK_KEY)
        except redis.exceptions.ResponseError:  # no database with that number
            candidate.close()
            break
        candidate.close()
    if client is None:
        pytest.fail(f"No empty Redis database (1-15) on {REDIS_HOST}:{REDIS_PORT} to run on")
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{number}"
    finally:
        if client.get(REDIS_LOCK_KEY) == token.encode():
            client.flushdb()
        client.close()


class CeleryProcess(subprocess.Popen):
    """``celery -A jobs.celery <command>`` from the project root, logging to a file."""

    def __init__(self, args: list[str], env: dict, log_path: Path) -> None:
        self.log_path = log_path
        self.log_file = open(log_path, "w")  # closed in stop()
        celery = Path(sys.executable).with_name("celery")
        command = [str(celery)] if celery.exists() else [sys.executable, "-m", "celery"]
        super().__init__([*command, "-A", "jobs.celery", *args], cwd=ROOT, env=env,
                         stdout=self.log_file, stderr=subprocess.STDOUT,
                         start_new_session=True)

    def __repr__(self) -> str:
        return f"<celery {self.args[3]} process {self.pid}>"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def stop(self) -> None:
        try:
            if self.poll() is None:
                self.send_signal(signal.SIGTERM)  # warm shutdown
                try:
                    self.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.kill()
                    self.wait(timeout=15)
        finally:
            self.log_file.close()


def process_env(broker_url: str, **extra: str) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "JOBS_BACKEND": "celery",
           "CELERY_BROKER_URL": broker_url, "DATABASE_URL": worker_database_url(),
           "PYTHONUNBUFFERED": "1", **WORKER_ENV, **extra}
    env.pop("TEST_SQLITE_NAME", None)
    return env


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, redis_db, tmp_path_factory):
    """One ``celery -A jobs.celery worker`` for the module, on the test database."""
    name = f"jobs-tests-{uuid.uuid4().hex[:8]}@%h"
    worker = CeleryProcess(["worker", "--pool=solo", "--concurrency=1", "--loglevel=INFO",
                            "--without-gossip", "--without-mingle", "--without-heartbeat",
                            "-n", name],
                           process_env(redis_db), tmp_path_factory.mktemp("celery") / "worker.log")
    worker.broker_url = redis_db
    try:
        wait_for(lambda: " ready." in worker.log(), 60, "the Celery worker to start", worker)
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def live(celery_worker, transactional_db, settings, monkeypatch):
    """This process sends jobs to the real worker's broker (read from the Django settings at
    send time, like any other CELERY_ setting)."""
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery would prefer it
    settings.JOBS_BACKEND = "celery"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = celery_worker.broker_url
    return celery_worker


@pytest.mark.slow
def test_worker_runs_the_enqueued_jobs(live):
    jobs = [services.enqueue("jobs.noop", {"n": n}) for n in range(4)]
    jobs.append(services.enqueue("jobs.sleep", {"seconds": 0.3, "steps": 3}))
    ids = [job.pk for job in jobs]
    wait_for(lambda: Job.objects.filter(pk__in=ids, status="succeeded").count() == len(ids),
             30, "every job to succeed", live)
    for job in Job.objects.filter(pk__in=ids):
        assert (job.progress, job.error, job.retry_count) == (100, "", 0)
        assert job.worker_id.startswith("celery:") and f":{live.pid}:" in job.worker_id
        assert job.started_at >= job.created_at and job.finished_at >= job.started_at
    assert job_row(jobs[-1]).result == {"slept_seconds": 0.3}


@pytest.mark.slow
def test_each_send_uses_the_broker_configured_at_that_time(live, settings, caplog):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_BROKER_URL = NO_BROKER
    here = services.enqueue("jobs.noop")  # runs at once, in this process: no broker needed
    assert job_row(here).status == "succeeded"
    assert f":{os.getpid()}:" in job_row(here).worker_id

    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = live.broker_url
    there = services.enqueue("jobs.noop")
    row = wait_for(lambda: Job.objects.filter(pk=there.pk, status="succeeded").first(), 20,
                   "the worker to run the job", live)
    assert f":{live.pid}:" in row.worker_id

    settings.CELERY_BROKER_URL = NO_BROKER
    with caplog.at_level("ERROR"):
        services.enqueue("jobs.noop")  # the commit hook's send fails: nothing listens there
    assert "OperationalError" in caplog.text or "Connection refused" in caplog.text
    stranded = Job.objects.get(status="pending")  # logged, not lost: still pending
    settings.CELERY_BROKER_URL = live.broker_url
    send_job(str(stranded.pk))
    row = wait_for(lambda: Job.objects.filter(pk=stranded.pk, status="succeeded").first(), 20,
                   "the worker to run the job sent again", live)
    assert f":{live.pid}:" in row.worker_id


@pytest.mark.slow
def test_running_job_heartbeats_while_its_handler_is_silent(live):
    # One step: the handler writes nothing for 3 s; only the task's heartbeat thread can.
    job = services.enqueue("jobs.sleep", {"seconds": 3, "steps": 1})

    def heartbeat_advanced():
        row = job_row(job)
        return (row.status == "running" and row.progress == 0
                and row.heartbeat_at - row.started_at >= timedelta(seconds=0.5))

    wait_for(heartbeat_advanced, 20, "a heartbeat while the handler sleeps", live)
    wait_for(lambda: job_row(job).status == "succeeded", 20, "the job to succeed", live)


@pytest.mark.slow
def test_job_cancelled_while_running_ends_cancelled(live):
    job = services.enqueue("jobs.sleep", {"seconds": 30, "steps": 60})
    wait_for(lambda: job_row(job).progress > 0, 20, "the job to run", live)
    services.cancel(job)
    row = wait_for(lambda: Job.objects.filter(pk=job.pk, status="cancelled").first(), 10,
                   "the job to stop", live)
    assert 0 < row.progress < 100 and row.result is None
    assert row.finished_at - row.cancel_requested_at < timedelta(seconds=5)


@pytest.mark.slow
def test_scheduled_and_retried_jobs_do_not_run_before_their_time(live):
    scheduled = services.enqueue("jobs.noop", scheduled_at=timezone.now() + timedelta(seconds=2))
    # A message that arrives early (here: one sent for "now") must not run it either.
    send_job(str(scheduled.pk), timezone.now())
    failing = services.enqueue("jobs.fail", {"message": "boom"}, max_retries=1)
    # First attempt failed; the retry is scheduled after a backoff (1-2 s here) and sent then.
    waiting = wait_for(lambda: Job.objects.filter(pk=failing.pk, status="pending",
                                                  retry_count=1).first(),
                       20, "the first attempt to fail", live)
    assert waiting.scheduled_at > waiting.updated_at
    failed = wait_for(lambda: Job.objects.filter(pk=failing.pk, status="failed").first(), 20,
                      "the retry to fail", live)
    assert (failed.retry_count, failed.error) == (1, "RuntimeError: boom")
    assert failed.started_at >= waiting.scheduled_at
    done = wait_for(lambda: Job.objects.filter(pk=scheduled.pk, status="succeeded").first(), 20,
                    "the scheduled job to run", live)
    assert done.started_at >= done.scheduled_at


@pytest.mark.slow
def test_beat_sends_the_reaper_which_reaps_a_dead_workers_job(live, tmp_path):
    stalled = Job.objects.create(job_class="jobs.noop", status="running", worker_id="celery:gone",
                                 started_at=timezone.now() - timedelta(hours=1),
                                 heartbeat_at=timezone.now() - timedelta(hours=1),
                                 max_retries=0)
    # Beat with the default settings module: `celery -A jobs.celery beat` as deployed.
    env = process_env(live.broker_url)
    del env["DJANGO_SETTINGS_MODULE"]
    beat = CeleryProcess(["beat", "--loglevel=INFO", "-s", str(tmp_path / "schedule")], env,
                         tmp_path / "beat.log")
    try:
        # The first reap is sent one period (30 s) after beat starts.
        row = wait_for(lambda: Job.objects.filter(pk=stalled.pk, status="failed").first(),
                       REAP_EVERY_SECONDS + 30, "the reaper to run", live)
        assert beat.poll() is None, beat.log_tail()
        assert "Sending due task jobs.reap (jobs.reap)" in beat.log()
    finally:
        beat.stop()
    assert row.error == "heartbeat_timeout"
    assert row.error_details["worker_id"] == "celery:gone"
