"""Periodic work is isolated per sync (and so per project): a scheduled sync that cannot be
evaluated (bad stored config, a cron that never fires, an unknown time zone, a trigger that
raises) is marked ``error`` with the reason, logged and counted, its slot is consumed, and
every other project's due sync is still triggered. The same for the stalled-run sweep."""

import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from jobs.models import Job
from syncs import services
from syncs.models import Sync, SyncRun
from syncs.services import scheduling, stalled_runs
from tests.conftest import body, wait_for
from tests.conftest import test_database_url as database_url

ROOT = Path(__file__).resolve().parents[2]
EVERY_5 = {"cron": "*/5 * * * *", "timezone": "UTC"}

# What breaks each of project A's syncs (written as stored data, past any validation), the
# metric reason and what last_error must name.
BREAKAGES = {
    "bad-attempts": ({"execution_config": {"max_auto_resume_attempts": "x"}},
                     "invalid_config", "execution_config.max_auto_resume_attempts"),
    "bad-config-type": ({"execution_config": ["not", "an", "object"]},
                        "invalid_config", "execution_config"),
    "never-fires": ({"schedule": {"cron": "0 0 30 2 *", "timezone": "UTC"}},
                    "schedule_cron_never_fires", "schedule.cron"),
    "bad-zone": ({"schedule": {"cron": "*/5 * * * *", "timezone": "Mars/Olympus_Mons"}},
                 "schedule_timezone_invalid", "schedule.timezone"),
    "bad-zone-type": ({"schedule": {"cron": "*/5 * * * *", "timezone": 5}},
                      "schedule_timezone_invalid", "schedule.timezone"),
    "bad-cron": ({"schedule": {"cron": "every day", "timezone": "UTC"}},
                 "schedule_cron_invalid", "schedule.cron"),
    "cron-type": ({"schedule": {"cron": 5}}, "schedule_cron_invalid", "schedule.cron"),
    "schedule-type": ({"schedule": "hourly"}, "schedule_invalid", "schedule"),
}


def scheduled(project, connection, slug: str) -> Sync:
    return services.create_sync(project, {
        "name": slug, "slug": slug, "connection": connection, "entities": ["orders"],
        "status": "active", "trigger_mode": "scheduled", "schedule": EVERY_5})


def errors_counted(reason: str) -> float:
    return REGISTRY.get_sample_value("syncs_schedule_errors_total", {"reason": reason}) or 0.0


@pytest.fixture
def world(project, other_project, shop_config):
    """Project A (acme) with one broken scheduled sync per kind of breakage plus one that
    raises when triggered ("provider-raises"), all due a minute ago; project B (globex) with
    one healthy sync due after them. Returns (A's syncs by slug, B's sync)."""
    a_connection = services.create_connection(project, provider="http_api", name="a",
                                              config=shop_config, secrets={"token": "t"})
    b_connection = services.create_connection(other_project, provider="http_api", name="b",
                                              config=shop_config, secrets={"token": "t"})
    broken = {slug: scheduled(project, a_connection, slug)
              for slug in [*BREAKAGES, "provider-raises"]}
    healthy = scheduled(other_project, b_connection, "b-orders")
    now = timezone.now()
    for slug, (changes, _, _) in BREAKAGES.items():
        Sync.objects.filter(pk=broken[slug].pk).update(**changes)
    # A's slots come first: before, the first broken one stopped the pass right there.
    Sync.objects.filter(project=project).update(next_run_at=now - timedelta(minutes=2))
    Sync.objects.filter(pk=healthy.pk).update(next_run_at=now - timedelta(minutes=1))
    return broken, healthy


@pytest.fixture
def trigger_raises_for(monkeypatch):
    """``services.trigger`` raising for one sync, as a provider or backend that blows up
    (replaced where the scheduler calls it)."""
    def install(sync_id):
        real = scheduling.trigger

        def trigger(sync, *args, **kwargs):
            if sync.pk == sync_id:
                raise RuntimeError("provider exploded")
            return real(sync, *args, **kwargs)

        monkeypatch.setattr(scheduling, "trigger", trigger)

    return install


def test_broken_syncs_of_one_project_never_stop_another_projects_schedule(
        world, trigger_raises_for, caplog):
    broken, healthy = world
    trigger_raises_for(broken["provider-raises"].pk)
    before = {reason: errors_counted(reason)
              for reason in {r for _, r, _ in BREAKAGES.values()} | {"unexpected_error"}}
    start = timezone.now()
    with caplog.at_level(logging.WARNING, logger="syncs"):
        triggered = services.run_due_schedules()

    assert [run.sync_id for run in triggered] == [healthy.pk]
    run = SyncRun.objects.get(sync_id=healthy.pk)
    assert run.triggered_by == "schedule" and run.status == "pending"
    assert Sync.objects.get(pk=healthy.pk).next_run_at > start

    for slug, (_, reason, field) in BREAKAGES.items():
        row = Sync.objects.get(pk=broken[slug].pk)
        assert row.status == "error", slug
        assert row.last_error.startswith(f"Scheduler: {field}"), (slug, row.last_error)
        if reason.startswith("schedule"):
            assert row.next_run_at is None, slug  # cannot be evaluated: until fixed
        else:
            assert row.next_run_at > start, slug  # the next slot, not this one again
    raised = Sync.objects.get(pk=broken["provider-raises"].pk)
    assert raised.status == "error"
    assert raised.last_error == "Scheduler: RuntimeError: provider exploded"
    assert raised.next_run_at > start
    assert not SyncRun.objects.filter(sync__project=broken["bad-attempts"].project_id).exists()

    expected = {reason: 0 for reason in before}
    for _, reason, _ in BREAKAGES.values():
        expected[reason] += 1
    expected["unexpected_error"] += 1
    assert {reason: errors_counted(reason) - before[reason] for reason in before} == expected
    records = [r for r in caplog.records if getattr(r, "task", None) == "syncs.schedule"]
    assert sorted(r.sync for r in records) == sorted(broken)
    assert {r.reason for r in records if r.sync == "never-fires"} == {
        "schedule_cron_never_fires"}
    assert all(r.project_id == str(broken["bad-attempts"].project_id) for r in records)

    # The slots were consumed: the next pass does not go over them again (no hot loop).
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="syncs"):
        assert services.run_due_schedules() == []
    assert not [r for r in caplog.records if getattr(r, "task", None) == "syncs.schedule"]


def test_a_fixed_sync_is_scheduled_again(api, world):
    broken, _ = world
    services.run_due_schedules()
    sync = Sync.objects.get(pk=broken["never-fires"].pk)
    assert (sync.status, sync.next_run_at) == ("error", None)
    services.update_sync(sync, {"schedule": EVERY_5})
    sync.refresh_from_db()
    assert sync.next_run_at > timezone.now()
    # And a sync in error still runs at its slots (a success puts it back to active).
    Sync.objects.filter(pk=sync.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    triggered = services.run_due_schedules()
    assert [run.sync_id for run in triggered] == [sync.pk]


def test_a_schedule_that_never_fires_is_a_422_not_a_500(api, make_sync):
    sync = make_sync()
    document = {"data": {"type": "syncs", "id": sync["id"], "attributes": {
        "trigger_mode": "scheduled", "schedule": {"cron": "0 0 30 2 *"}}}}
    response = api.patch(f"/api/v1/syncs/{sync['id']}", data=orjson.dumps(document),
                         content_type="application/vnd.api+json")
    assert response.status_code == 422, response.content
    assert body(response)["errors"][0]["source"]["pointer"].startswith(
        "/data/attributes/schedule")
    assert Sync.objects.get(pk=sync["id"]).trigger_mode != "scheduled"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_run_scheduler_once_in_a_process(world):
    """The real command, in its own process, on the test database."""
    broken, healthy = world
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": database_url(), "JOBS_BACKEND": "native"}
    done = subprocess.run([sys.executable, "manage.py", "run_scheduler", "--once"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Triggered {healthy.slug}: run " in done.stdout
    run = SyncRun.objects.get(sync_id=healthy.pk)
    assert run.triggered_by == "schedule"
    assert "max_auto_resume_attempts" in done.stderr + done.stdout  # the log line
    for slug, (_, _, field) in BREAKAGES.items():
        row = Sync.objects.get(pk=broken[slug].pk)
        assert row.status == "error" and field in row.last_error, (slug, row.last_error)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_workers_periodic_scheduler_job_goes_on_past_broken_syncs(world, spawn_worker):
    """The syncs.schedule periodic job in a real run_worker process: it succeeds, project B's
    sync is triggered, project A's broken syncs say why."""
    broken, healthy = world
    spawn_worker("--concurrency", "2", env={"SYNCS_SCHEDULER_EVERY_SECONDS": "1",
                                            "JOBS_POLL_SECONDS": "0.2"})
    wait_for(lambda: SyncRun.objects.filter(sync_id=healthy.pk).exists(), timeout=60)
    assert SyncRun.objects.get(sync_id=healthy.pk).triggered_by == "schedule"
    wait_for(lambda: Job.objects.filter(job_class="syncs.schedule",
                                        status__in=["succeeded", "failed"]).exists(),
             timeout=30)
    assert set(Job.objects.filter(job_class="syncs.schedule", status__in=[
        "succeeded", "failed"]).values_list("status", flat=True)) == {"succeeded"}
    for slug, (_, _, field) in BREAKAGES.items():
        row = Sync.objects.get(pk=broken[slug].pk)
        assert row.status == "error" and field in row.last_error, (slug, row.last_error)


# --- the stalled-run sweep ------------------------------------------------------------------

def stalled(sync: Sync) -> SyncRun:
    run = services.trigger(sync)
    SyncRun.objects.filter(pk=run.pk).update(
        status="running", started_at=timezone.now() - timedelta(hours=1),
        last_heartbeat_at=timezone.now() - timedelta(hours=1))
    return run


def test_the_sweep_goes_on_past_runs_it_cannot_resume(world, monkeypatch, caplog):
    broken, healthy = world
    Sync.objects.filter(pk=broken["bad-attempts"].pk).update(execution_config={})
    bad_resume = stalled(Sync.objects.get(pk=broken["bad-attempts"].pk))
    Sync.objects.filter(pk=broken["bad-attempts"].pk).update(
        execution_config={"max_auto_resume_attempts": "x"})
    exploding = stalled(Sync.objects.get(pk=broken["never-fires"].pk))
    fine = stalled(Sync.objects.get(pk=healthy.pk))
    real = stalled_runs.fail_stalled_run

    def fail_stalled_run(run, *args, **kwargs):
        if run.pk == exploding.pk:
            raise RuntimeError("the database said no")
        return real(run, *args, **kwargs)

    monkeypatch.setattr(stalled_runs, "fail_stalled_run", fail_stalled_run)
    with caplog.at_level(logging.WARNING, logger="syncs"):
        resumed = services.sweep_stalled_runs(timeout_seconds=60)

    # Project B's run failed and resumed by a next attempt.
    assert [r.previous_attempt_run_id for r in resumed] == [fine.pk]
    assert SyncRun.objects.get(pk=fine.pk).status == "failed"
    # A's run with the bad config: failed, not resumed, the sync says why.
    assert SyncRun.objects.get(pk=bad_resume.pk).status == "failed"
    assert SyncRun.objects.get(pk=bad_resume.pk).next_attempt_run_id is None
    sync = Sync.objects.get(pk=broken["bad-attempts"].pk)
    assert sync.status == "error"
    assert "execution_config.max_auto_resume_attempts" in sync.last_error
    assert sync.last_error.startswith(f"Auto-resume of run {bad_resume.pk} failed")
    # The run whose handling raised is left for the next sweep.
    assert SyncRun.objects.get(pk=exploding.pk).status == "running"
    tasks = sorted(getattr(r, "task", "") for r in caplog.records if hasattr(r, "task"))
    assert tasks == ["syncs.auto_resume", "syncs.sweep"]


def test_the_reaper_path_never_raises_on_a_bad_config(world):
    """``fail_stalled_run`` is what the jobs reaper calls for a dead run's job too."""
    broken, _ = world
    Sync.objects.filter(pk=broken["bad-attempts"].pk).update(execution_config={})
    run = stalled(Sync.objects.get(pk=broken["bad-attempts"].pk))
    Sync.objects.filter(pk=broken["bad-attempts"].pk).update(
        execution_config={"max_auto_resume_attempts": "x"})
    assert services.fail_stalled_run(SyncRun.objects.get(pk=run.pk)) is None
    assert SyncRun.objects.get(pk=run.pk).status == "failed"
    assert Sync.objects.get(pk=broken["bad-attempts"].pk).status == "error"
