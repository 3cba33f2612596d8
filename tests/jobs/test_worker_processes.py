"""Real worker processes on the test database: exactly-once claiming, crash recovery by the
reaper, graceful shutdown, and NOTIFY wake-up on PostgreSQL."""

import signal
import time
from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from jobs import services
from jobs.models import Job
from tests.conftest import is_postgres, wait_for
from tests.testapp.models import SideEffect

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FAST_REAPER = {"JOBS_HEARTBEAT_SECONDS": "0.2", "JOBS_HEARTBEAT_TIMEOUT_SECONDS": "2",
               "JOBS_POLL_SECONDS": "0.1"}


def bulk_enqueue(count: int, job_class="testapp.record", **fields) -> list:
    return Job.objects.bulk_create(Job(job_class=job_class, **fields) for _ in range(count))


def finish(processes, timeout=240):
    for process in processes:
        output, _ = process.communicate(timeout=timeout)
        assert process.returncode == 0, output


def test_each_job_runs_exactly_once_across_four_workers(spawn_worker, project):
    # The figure (2,000 jobs, 4 processes) on PostgreSQL; SQLite serialises writers,
    # so the same proof runs there on fewer jobs.
    count = 2000 if is_postgres() else 300
    bulk_enqueue(count, project=project)
    workers = [spawn_worker("--burst", "--concurrency", "2", env=FAST_REAPER) for _ in range(4)]
    finish(workers)
    assert Job.objects.filter(job_class="testapp.record", status="succeeded").count() == count
    runs = SideEffect.objects.values("job_id").annotate(n=Count("id"))
    assert len(runs) == count
    assert {row["n"] for row in runs} == {1}
    # Work was really shared.
    assert SideEffect.objects.values("worker_id").distinct().count() > 1


def test_killed_worker_job_is_requeued_and_finished_by_another(spawn_worker, project):
    job = services.enqueue("testapp.hang", {"seconds": 600}, project=project, max_retries=2)
    doomed = spawn_worker(env=FAST_REAPER)
    wait_for(lambda: SideEffect.objects.filter(job_id=job.pk, kind="started").exists())
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    rescuer = spawn_worker(env=FAST_REAPER)
    row = wait_for(lambda: Job.objects.filter(pk=job.pk, status="succeeded").first(),
                   timeout=60)
    assert row.retry_count == 1 and row.result == {"attempt": 1}
    assert row.error == "" and row.worker_id != ""
    assert SideEffect.objects.filter(job_id=job.pk).count() == 2
    rescuer.send_signal(signal.SIGTERM)
    assert rescuer.wait(timeout=30) == 0


def test_killed_worker_job_without_retries_fails_with_heartbeat_timeout(spawn_worker,
                                                                           project):
    job = services.enqueue("testapp.hang", {"seconds": 600}, project=project, max_retries=0)
    doomed = spawn_worker(env=FAST_REAPER)
    wait_for(lambda: SideEffect.objects.filter(job_id=job.pk).exists())
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    spawn_worker(env=FAST_REAPER)
    row = wait_for(lambda: Job.objects.filter(pk=job.pk, status="failed").first(), timeout=60)
    assert row.error == "heartbeat_timeout"
    assert row.error_details["reason"] == "heartbeat_timeout"
    assert SideEffect.objects.filter(job_id=job.pk).count() == 1


def test_reap_jobs_command_reaps_a_dead_workers_job(project, capsys):
    from django.core.management import call_command

    job = Job.objects.create(job_class="jobs.noop", project=project, status="running",
                             worker_id="gone", started_at=timezone.now(),
                             heartbeat_at=timezone.now(), max_retries=0)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    call_command("reap_jobs", "--timeout", "60")
    assert "Reaped 1 stalled job(s)" in capsys.readouterr().out
    assert Job.objects.get(pk=job.pk).status == "failed"


def test_sigterm_lets_the_running_job_finish(spawn_worker, project):
    job = services.enqueue("testapp.record", {"sleep": 2}, project=project)
    worker = spawn_worker(env=FAST_REAPER)
    wait_for(lambda: SideEffect.objects.filter(job_id=job.pk).exists())
    worker.send_signal(signal.SIGTERM)
    output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, output
    assert Job.objects.get(pk=job.pk).status == "succeeded"


def test_second_signal_releases_the_running_job(spawn_worker, project):
    job = services.enqueue("testapp.cooperative", {"seconds": 60}, project=project)
    worker = spawn_worker(env=FAST_REAPER)
    wait_for(lambda: Job.objects.get(pk=job.pk).progress > 1)
    worker.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    worker.send_signal(signal.SIGINT)
    output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, output
    row = Job.objects.get(pk=job.pk)
    assert (row.status, row.worker_id, row.retry_count) == ("pending", "", 0)


def test_idle_worker_wakes_on_enqueue(spawn_worker, project):
    """PostgreSQL: NOTIFY wakes an idle worker long before its (here 30 s) poll; SQLite:
    polling only, so this runs with a short poll there."""
    poll = "30" if is_postgres() else "0.2"
    worker = spawn_worker(env={**FAST_REAPER, "JOBS_POLL_SECONDS": poll})
    # Started (it ran a first job: on a loaded machine start-up alone can take seconds), then
    # idle: from here on only a NOTIFY (or, on SQLite, the short poll) can wake it in time.
    warm_up = services.enqueue("jobs.noop", project=project)
    wait_for(lambda: Job.objects.filter(pk=warm_up.pk, status="succeeded").first(), timeout=60)
    latencies = []
    for _ in range(5):
        time.sleep(0.5)
        job = services.enqueue("jobs.noop", project=project)
        row = wait_for(lambda job=job: Job.objects.filter(pk=job.pk, status="succeeded")
                       .first(), timeout=10)
        latencies.append((row.started_at - row.created_at).total_seconds())
    # Far below the 30 s poll (a woken worker claims within milliseconds on a quiet machine;
    # the margin is for a loaded one).
    assert max(latencies) < 5.0, latencies
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
