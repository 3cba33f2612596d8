"""Batched claims: ``claim(limit)`` (the first job started, the others claimed ahead), a
success written in the statement that claims the next jobs (``finish_and_claim``), jobs claimed
ahead given back (``release_many``), and the worker's adaptive claim-ahead on PostgreSQL."""

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from jobs import claiming, outcomes, reaping, services
from jobs.models import Job
from jobs.registry import job_handler
from jobs.signals import job_started
from jobs.worker import Worker
from tests.conftest import is_postgres, wait_for

QUEUE = "claim-ahead"


def test_claim_takes_up_to_limit_in_claim_order(project):
    low = services.enqueue("jobs.noop", project=project, priority=1)
    high = services.enqueue("jobs.noop", project=project, priority=9)
    middle = services.enqueue("jobs.noop", project=project, priority=5)
    services.enqueue("jobs.noop", project=project, priority=7,
                     scheduled_at=timezone.now() + timedelta(hours=1))  # not due
    claimed = claiming.claim("w1", limit=2)
    assert [job.pk for job in claimed] == [high.pk, middle.pk]
    assert all(job.status == "running" and job.worker_id == "w1" for job in claimed)
    assert [job.pk for job in claiming.claim("w2", limit=5)] == [low.pk]
    assert claiming.claim("w3", limit=5) == []


def test_finish_and_claim_records_successes_and_claims_the_next(project):
    first, second, third = (services.enqueue("jobs.noop", {"n": n}, project=project,
                                             priority=3 - n) for n in range(3))
    [running] = claiming.claim("w1", limit=1)
    assert running.pk == first.pk
    finished_at = timezone.now()
    claimed, recorded = claiming.finish_and_claim(
        "w1", [(running, {"answer": 42}, finished_at)], limit=5)
    assert recorded == {first.pk}
    assert [job.pk for job in claimed] == [second.pk, third.pk]
    row = Job.objects.get(pk=first.pk)
    assert (row.status, row.progress, row.result) == ("succeeded", 100, {"answer": 42})
    assert row.finished_at == finished_at
    # Nothing left to claim: the successes are still recorded.
    claimed, recorded = claiming.finish_and_claim(
        "w1", [(job, None, timezone.now()) for job in claimed], limit=3)
    assert claimed == [] and recorded == {second.pk, third.pk}
    assert set(Job.objects.values_list("status", flat=True)) == {"succeeded"}


def test_finish_and_claim_does_not_record_a_job_reaped_meanwhile(project):
    services.enqueue("jobs.noop", project=project)
    [claimed] = claiming.claim("slow-worker")
    Job.objects.filter(pk=claimed.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    reaping.reap_stalled(timeout_seconds=60)
    again, recorded = claiming.finish_and_claim(
        "slow-worker", [(claimed, {"late": True}, timezone.now())], limit=0)
    assert again == [] and recorded == set()
    row = Job.objects.get(pk=claimed.pk)
    assert row.status == "pending" and row.result is None


def test_release_many_gives_claimed_jobs_back(project):
    for _ in range(3):
        services.enqueue("jobs.noop", project=project)
    claimed = claiming.claim("w1", limit=3)
    other = claiming.claim_next("w2")
    assert other is None
    assert outcomes.release_many(claimed[1:], "w1") == 2
    assert outcomes.release_many(claimed[:1], "someone-else") == 0  # not theirs
    assert outcomes.release_many(claimed[:1], "w1") == 0  # started: it runs
    statuses = dict(Job.objects.values_list("pk", "status"))
    assert statuses[claimed[0].pk] == "running"
    assert [statuses[job.pk] for job in claimed[1:]] == ["pending", "pending"]
    given_back = Job.objects.get(pk=claimed[1].pk)
    assert (given_back.worker_id, given_back.retry_count) == ("", 0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("prefetch", [8, 3, 1])
def test_worker_claims_ahead_only_on_postgresql(project, prefetch):
    """While jobs are short, a runner holds up to ``prefetch`` claimed jobs at once on
    PostgreSQL (fewer round trips); SQLite, with none to save, claims one at a time."""
    held_at_start: list[int] = []

    def count_held(sender, job, worker_id, **kwargs):
        held_at_start.append(Job.objects.filter(status="running", worker_id=worker_id,
                                                job_class="testapp.record").count())

    # A queue of their own: the worker's periodic jobs stay out of the counts.
    jobs = [services.enqueue("testapp.record", project=project, queue=QUEUE)
            for _ in range(30)]
    job_started.connect(count_held, dispatch_uid="test-claim-ahead")
    try:
        worker = Worker(queues=[QUEUE], concurrency=1, burst=True, poll_seconds=0.05,
                        prefetch=prefetch)
        worker.SHORT_JOB_SECONDS = 10.0  # every job counts as short, however loaded the CI
        worker.run()
    finally:
        job_started.disconnect(dispatch_uid="test-claim-ahead")
    rows = Job.objects.filter(pk__in=[job.pk for job in jobs])
    assert rows.filter(status="succeeded").count() == 30
    assert len(held_at_start) == 30
    assert max(held_at_start) == (prefetch if is_postgres() else 1)


@pytest.mark.parametrize("option", ["--prefetch", "--concurrency"])
def test_run_worker_refuses_values_below_one(option, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command("run_worker", "--burst", option, "0")
    assert exit_info.value.code == 2
    assert f"{option} must be at least 1" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_jobs_claimed_behind_a_long_job_are_given_back(project):
    if not is_postgres():
        pytest.skip("claim-ahead runs on PostgreSQL only")
    release = threading.Event()
    held_when_long_started: list[int] = []

    def count_held(sender, job, worker_id, **kwargs):
        if job.job_class == "test.long":
            held_when_long_started.append(Job.objects.filter(
                pk__in=behind_ids, status="running", worker_id=worker_id).count())

    @job_handler("test.long")
    def long_job(ctx, payload):
        release.wait(30)

    # 7 short jobs first, so the claim size has grown to 8 when the long job comes: it is
    # claimed with some of the 7 short jobs queued behind it.
    first = [services.enqueue("testapp.record", project=project, priority=10, queue=QUEUE)
             for _ in range(7)]
    long = services.enqueue("test.long", project=project, priority=5, queue=QUEUE)
    behind = [services.enqueue("testapp.record", project=project, priority=1, queue=QUEUE)
              for _ in range(7)]
    behind_ids = [job.pk for job in behind]
    worker = Worker(queues=[QUEUE], concurrency=1, burst=True, poll_seconds=0.05,
                    heartbeat_seconds=0.2)
    worker.SHORT_JOB_SECONDS = 10.0
    worker.PREFETCH_HOLD_SECONDS = 0.3
    job_started.connect(count_held, dispatch_uid="test-claim-behind")
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        wait_for(lambda: held_when_long_started, timeout=10)
        assert held_when_long_started[0] >= 1  # claimed with the long job
        # ... and given back while the long job still runs.
        wait_for(lambda: Job.objects.filter(pk__in=behind_ids, status="pending").count() == 7,
                 timeout=10)
        assert Job.objects.get(pk=long.pk).status == "running"
        assert Job.objects.filter(pk__in=[job.pk for job in first],
                                  status="succeeded").count() == 7
    finally:
        release.set()
        runner.join(timeout=30)
        job_started.disconnect(dispatch_uid="test-claim-behind")
    assert not runner.is_alive()
    assert Job.objects.filter(pk__in=[long.pk, *behind_ids],
                              status="succeeded").count() == 8


@pytest.mark.django_db(transaction=True)
def test_worker_survives_its_database_connections_being_killed(project):
    """A database restart or a broken connection costs a retry, not the worker."""
    if not is_postgres():
        pytest.skip("terminating server connections needs PostgreSQL")
    from django.db import connection

    worker = Worker(queues=[QUEUE], concurrency=1, poll_seconds=0.1)
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        first = services.enqueue("testapp.record", project=project, queue=QUEUE)
        wait_for(lambda: Job.objects.get(pk=first.pk).status == "succeeded", timeout=10)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            assert cursor.rowcount >= 1
        second = services.enqueue("testapp.record", project=project, queue=QUEUE)
        wait_for(lambda: Job.objects.get(pk=second.pk).status == "succeeded", timeout=15)
        assert runner.is_alive()
    finally:
        worker.request_stop()
        runner.join(timeout=15)
    assert not runner.is_alive()
