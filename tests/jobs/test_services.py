"""The queue's rules, in-process: enqueue, unicity, claim order, schedule, retries with
backoff, cancel, reaping, checkpoints."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs import claiming, outcomes, reaping, services
from jobs.execution import execute
from jobs.models import Job
from jobs.registry import UnknownJobClass, job_handler
from jobs.worker import Worker
from tests.conftest import wait_for
from tests.testapp.models import SideEffect


def run_one(worker_id="test-worker"):
    job = claiming.claim_next(worker_id)
    assert job is not None
    return execute(job, worker_id), Job.objects.get(pk=job.pk)


def test_enqueue_unknown_job_class_fails_at_once(project):
    with pytest.raises(UnknownJobClass):
        services.enqueue("no.such.handler", project=project)
    assert not Job.objects.exists()


def test_enqueue_takes_handler_default_retries(project):
    assert services.enqueue("jobs.fail", project=project).max_retries == 0
    assert services.enqueue("jobs.noop", project=project).max_retries == 3
    assert services.enqueue("jobs.noop", project=project, max_retries=7).max_retries == 7


def test_unicity_returns_the_active_job(project):
    first = services.enqueue("jobs.noop", project=project, unicity="nightly")
    again = services.enqueue("jobs.noop", project=project, unicity="nightly")
    assert again.pk == first.pk and Job.objects.count() == 1
    status, _ = run_one()
    assert status == "succeeded"
    third = services.enqueue("jobs.noop", project=project, unicity="nightly")
    assert third.pk != first.pk


def test_unicity_is_enforced_by_the_database(project):
    Job.objects.create(job_class="jobs.noop", unicity="k", status="running")
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(job_class="jobs.noop", unicity="k", status="pending")
    Job.objects.create(job_class="jobs.noop", unicity="k", status="failed")  # finished: fine


def test_claim_order_priority_then_schedule_then_age(project):
    now = timezone.now()
    low = services.enqueue("jobs.noop", project=project, priority=0)
    later = services.enqueue("jobs.noop", project=project, priority=5,
                             scheduled_at=now - timedelta(seconds=1))
    earlier = services.enqueue("jobs.noop", project=project, priority=5,
                               scheduled_at=now - timedelta(seconds=10))
    high = services.enqueue("jobs.noop", project=project, priority=9)
    claimed = [claiming.claim_next("w").pk for _ in range(4)]
    assert claimed == [high.pk, earlier.pk, later.pk, low.pk]
    assert claiming.claim_next("w") is None


def test_claimed_job_is_running_on_the_worker(project):
    job = services.enqueue("jobs.noop", project=project)
    claimed = claiming.claim_next("worker-7")
    assert claimed.pk == job.pk
    row = Job.objects.get(pk=job.pk)
    assert (row.status, row.worker_id) == ("running", "worker-7")
    assert row.started_at is not None and row.heartbeat_at is not None


def test_claim_respects_queues(project):
    services.enqueue("jobs.noop", project=project, queue="exports")
    assert claiming.claim_next("w", ["syncs"]) is None
    assert claiming.claim_next("w", ["syncs", "exports"]) is not None


def test_future_job_is_not_claimed_until_due(project):
    job = services.enqueue("jobs.noop", project=project,
                           scheduled_at=timezone.now() + timedelta(hours=1))
    assert claiming.claim_next("w") is None
    services.run_now(job)
    assert claiming.claim_next("w").pk == job.pk


def test_failure_retries_with_backoff_then_fails(project, settings):
    settings.JOBS_RETRY_BASE_SECONDS = 10
    job = services.enqueue("testapp.flaky", {"succeed_on": 99}, project=project, max_retries=2)
    before = timezone.now()
    status, row = run_one()
    assert status == "pending" and row.retry_count == 1
    # First retry after 50–100 % of the base delay.
    assert before + timedelta(seconds=5) <= row.scheduled_at <= timezone.now() + timedelta(
        seconds=10)
    assert row.error == "ValueError: flaky failure on attempt 0"
    assert row.error_details["type"] == "builtins.ValueError"
    assert "Traceback" in row.error_traceback and "traceback" not in row.error_details
    assert claiming.claim_next("w") is None  # not due yet
    services.run_now(row)
    status, row = run_one()
    assert status == "pending" and row.retry_count == 2
    services.run_now(row)
    status, row = run_one()
    assert status == "failed" and row.retry_count == 2 and row.finished_at is not None
    assert SideEffect.objects.filter(job_id=job.pk).count() == 3


def test_flaky_job_succeeds_on_a_retry(project, settings):
    settings.JOBS_RETRY_BASE_SECONDS = 0
    job = services.enqueue("testapp.flaky", {"succeed_on": 1}, project=project)
    assert run_one()[0] == "pending"
    status, row = run_one()
    assert status == "succeeded" and row.result == {"attempt": 1} and row.error == ""
    assert row.pk == job.pk


def test_retry_delay_grows_exponentially_and_is_capped(settings):
    settings.JOBS_RETRY_BASE_SECONDS = 2
    settings.JOBS_RETRY_MAX_SECONDS = 60
    for attempt, full in [(1, 2), (2, 4), (3, 8), (5, 32), (6, 60), (20, 60)]:
        delays = [outcomes.retry_delay(attempt) for _ in range(50)]
        assert all(full * 0.5 <= d <= full for d in delays), (attempt, delays)
    assert len({outcomes.retry_delay(3) for _ in range(20)}) > 1  # jittered


def test_unknown_handler_at_run_time_fails_without_retry(project):
    Job.objects.create(job_class="vanished.handler", project=project, max_retries=5)
    status, row = run_one()
    assert status == "failed" and "vanished.handler" in row.error


def test_result_is_stored(project):
    services.enqueue("testapp.record", project=project)
    status, row = run_one()
    assert status == "succeeded" and row.result == {"ok": True} and row.progress == 100


def test_checkpoint_lets_a_retry_resume(project, settings):
    settings.JOBS_RETRY_BASE_SECONDS = 0
    services.enqueue("testapp.checkpointing", {"until": 5, "fail_at": 3}, project=project)
    status, row = run_one()
    assert status == "pending" and row.checkpoint == {"done": 3}
    status, row = run_one()
    assert status == "succeeded" and row.result == {"resumed_from": 3}


@pytest.mark.django_db(transaction=True)
def test_cooperative_cancel_of_a_running_job(project):
    job = services.enqueue("testapp.cooperative", {"seconds": 20}, project=project)
    claimed = claiming.claim_next("w")
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(status=execute(claimed, "w")))
    thread.start()
    wait_for(lambda: Job.objects.get(pk=job.pk).progress > 2)
    services.cancel(job)
    thread.join(timeout=10)
    assert outcome["status"] == "cancelled"
    row = Job.objects.get(pk=job.pk)
    assert row.status == "cancelled" and row.finished_at is not None and row.progress < 99


@pytest.mark.django_db(transaction=True)
def test_worker_shutdown_releases_the_running_job(project):
    job = services.enqueue("testapp.cooperative", {"seconds": 20}, project=project)
    claimed = claiming.claim_next("w")
    shutdown = threading.Event()
    outcome = {}
    thread = threading.Thread(
        target=lambda: outcome.update(status=execute(claimed, "w", shutdown)))
    thread.start()
    wait_for(lambda: Job.objects.get(pk=job.pk).progress > 1)
    shutdown.set()
    thread.join(timeout=10)
    row = Job.objects.get(pk=job.pk)
    assert outcome["status"] == "pending"
    assert (row.status, row.worker_id, row.retry_count) == ("pending", "", 0)


def test_reaper_requeues_then_fails_stalled_jobs(project):
    stale = timezone.now() - timedelta(minutes=5)
    retriable = Job.objects.create(job_class="jobs.noop", project=project, status="running",
                                   worker_id="dead", started_at=stale, heartbeat_at=stale,
                                   max_retries=1)
    exhausted = Job.objects.create(job_class="jobs.noop", project=project, status="running",
                                   worker_id="dead", started_at=stale, heartbeat_at=stale,
                                   max_retries=1, retry_count=1)
    alive = Job.objects.create(job_class="jobs.noop", project=project, status="running",
                               worker_id="alive", started_at=stale, heartbeat_at=timezone.now())
    reaped = {job.pk: job for job in reaping.reap_stalled(timeout_seconds=60)}
    assert set(reaped) == {retriable.pk, exhausted.pk}
    row = Job.objects.get(pk=retriable.pk)
    assert (row.status, row.retry_count, row.error, row.worker_id) == (
        "pending", 1, "heartbeat_timeout", "")
    row = Job.objects.get(pk=exhausted.pk)
    assert (row.status, row.error) == ("failed", "heartbeat_timeout")
    assert row.error_details["worker_id"] == "dead"
    assert Job.objects.get(pk=alive.pk).status == "running"


def test_a_reaped_job_finishing_late_changes_nothing(project):
    services.enqueue("jobs.noop", project=project)
    claimed = claiming.claim_next("slow-worker")
    Job.objects.filter(pk=claimed.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    reaping.reap_stalled(timeout_seconds=60)
    assert outcomes.mark_succeeded(claimed, {"late": True}) is False
    row = Job.objects.get(pk=claimed.pk)
    assert row.status == "pending" and row.result is None


@pytest.mark.django_db(transaction=True)
def test_burst_worker_runs_everything_due_once(project):
    jobs = [services.enqueue("testapp.record", project=project) for _ in range(20)]
    future = services.enqueue("testapp.record", project=project,
                              scheduled_at=timezone.now() + timedelta(hours=1))
    processed = Worker(concurrency=3, burst=True, poll_seconds=0.05).run()
    periodic_runs = Job.objects.filter(unicity__startswith="periodic:",
                                       status="succeeded").count()
    assert processed == 20 + periodic_runs
    assert Job.objects.filter(pk__in=[j.pk for j in jobs], status="succeeded").count() == 20
    assert SideEffect.objects.count() == 20
    assert Job.objects.get(pk=future.pk).status == "pending"


@pytest.mark.django_db(transaction=True)
def test_worker_runs_by_priority(project):
    order = []

    @job_handler("test.order")
    def record_order(ctx, payload):
        order.append(payload["n"])

    for priority in (1, 5, 3):
        services.enqueue("test.order", {"n": priority}, project=project, priority=priority)
    Worker(concurrency=1, burst=True, poll_seconds=0.05).run()
    assert order == [5, 3, 1]


def test_the_migration_moves_tracebacks_out_of_error_details(project):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("jobs.migrations.0003_error_traceback")
    legacy = Job.objects.create(job_class="jobs.noop", project=project, status="failed",
                                error_details={"reason": "x", "traceback": "Traceback: y"})
    plain = Job.objects.create(job_class="jobs.noop", project=project, status="failed",
                               error_details={"reason": "heartbeat_timeout"})
    migration.move_tracebacks(apps, None)
    row = Job.objects.get(pk=legacy.pk)
    assert (row.error_details, row.error_traceback) == ({"reason": "x"}, "Traceback: y")
    assert Job.objects.get(pk=plain.pk).error_details == {"reason": "heartbeat_timeout"}
    migration.restore_tracebacks(apps, None)
    row = Job.objects.get(pk=legacy.pk)
    assert row.error_details == {"reason": "x", "traceback": "Traceback: y"}


def test_code_that_predates_error_traceback_can_still_insert_jobs(project):
    """A rolling deploy: the column has a database default, so an INSERT without it (the
    processes not upgraded yet) succeeds."""
    from django.db import connection

    job = Job(job_class="jobs.noop", project=project)
    fields = [f for f in Job._meta.concrete_fields if f.name != "error_traceback"]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = [f.get_db_prep_save(f.pre_save(job, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {Job._meta.db_table} ({columns}) VALUES "
                       f"({', '.join(['%s'] * len(fields))})", values)
    assert Job.objects.get(pk=job.pk).error_traceback == ""
