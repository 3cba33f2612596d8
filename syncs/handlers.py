"""The syncs app's job handlers and periodic jobs. The runner and services they call load
with the first job that needs them, not with the app (a worker starts without them)."""

from django.conf import settings
from django.dispatch import receiver

from jobs.periodic import periodic_job
from jobs.registry import job_handler
from jobs.signals import job_reaped
from syncs.job_classes import RUN_JOB, SCHEDULE_JOB, SWEEP_JOB, TASK_JOB


@job_handler(RUN_JOB, max_retries=0)
def run_sync(ctx, payload: dict) -> dict:
    from syncs import runner

    return runner.start_run(ctx, payload["run_id"])


@job_handler(TASK_JOB, max_retries=0)
def run_task(ctx, payload: dict) -> dict:
    from syncs import runner

    runner.run_child_task(ctx, payload["run_id"], payload["task"])
    return {"task": payload["task"]}


@job_handler(SWEEP_JOB, max_retries=0)
def sweep(ctx, payload: dict) -> dict:
    from syncs import services

    return {"resumed": [str(r.pk) for r in services.sweep_stalled_runs()]}


@job_handler(SCHEDULE_JOB, max_retries=0)
def schedule(ctx, payload: dict) -> dict:
    from syncs import services

    return {"triggered": [str(r.pk) for r in services.run_due_schedules()]}


periodic_job(SWEEP_JOB, every_seconds=60)
periodic_job(SCHEDULE_JOB, every_seconds=settings.SYNCS_SCHEDULER_EVERY_SECONDS)


@receiver(job_reaped)
def fail_run_of_reaped_job(sender, job, **kwargs) -> None:
    """A run's job stopped heartbeating (its worker died): fail the run with
    heartbeat_timeout and resume it in a next attempt while attempts remain."""
    if job.job_class not in (RUN_JOB, TASK_JOB) or job.status != "failed":
        return
    from syncs import services
    from syncs.models import SyncRun

    run = SyncRun.objects.filter(pk=job.payload.get("run_id")).select_related("sync").first()
    if run is not None:
        services.fail_stalled_run(run)
