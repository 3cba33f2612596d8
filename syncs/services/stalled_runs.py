"""Runs that stopped heartbeating: failed, and resumed by a next attempt while attempts
remain; the sweep that finds them."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jobs.models import ACTIVE_STATUSES as ACTIVE_JOB_STATUSES
from jobs.models import Job
from syncs import events as run_events
from syncs.models import SyncRun
from syncs.services.errors import SyncStateError
from syncs.services.periodic import describe_problem, mark_sync_error, periodic_item_failed
from syncs.services.runs import TRIGGERABLE, cancel_jobs, record_outcome, trigger


def fail_stalled_run(run: SyncRun, reason_code: str = "heartbeat_timeout") -> SyncRun | None:
    """A run whose heartbeat stopped: failed, and resumed by a next attempt (from the last
    checkpoint) while attempts remain. A resume that cannot be triggered (bad stored config)
    leaves the run failed and the sync in ``error`` with the reason; it never raises, so the
    sweep and the reaper go on with the other runs."""
    now = timezone.now()
    error = f"The run stopped heartbeating ({reason_code})."
    with transaction.atomic():
        if not SyncRun.objects.filter(pk=run.pk, status__in=[
                SyncRun.Status.PENDING, SyncRun.Status.RUNNING]).update(
                status=SyncRun.Status.FAILED, result_class=SyncRun.ResultClass.FAILED,
                result_reason_code=reason_code, error=error, completed_at=now, updated_at=now):
            return None
        run_events.failed(run, reason_code, error)
    run.refresh_from_db()
    cancel_jobs(run)
    record_outcome(run)
    if run.attempt_number <= run.max_auto_resume_attempts and run.sync.status in TRIGGERABLE:
        try:
            return trigger(run.sync, run.run_mode, triggered_by=SyncRun.TriggeredBy.AUTO_RESUME,
                           previous=run, trigger_ref=f"auto_resume:{run.pk}")
        except SyncStateError:
            return None
        except Exception as exc:  # noqa: BLE001 - a sync's bad data stays that sync's problem
            reason, message = describe_problem(exc, run.sync)
            mark_sync_error(run.sync, f"Auto-resume of run {run.pk} failed: {message}")
            periodic_item_failed("syncs.auto_resume", reason, message, sync=run.sync,
                                 run_id=str(run.pk))
    return None


def sweep_stalled_runs(timeout_seconds: float | None = None) -> list[SyncRun]:
    """Runs that stopped heartbeating (their worker died and the job is gone or finished).
    Each run is handled on its own: one that raises is logged and counted
    (``periodic_sweep_errors_total``) and the sweep goes on with the others."""
    timeout = timeout_seconds if timeout_seconds is not None \
        else settings.SYNCS_RUN_HEARTBEAT_TIMEOUT_SECONDS
    cutoff = timezone.now() - timedelta(seconds=timeout)
    resumed = []
    for run in SyncRun.objects.filter(status=SyncRun.Status.RUNNING,
                                      last_heartbeat_at__lt=cutoff).select_related("sync"):
        try:
            if run.job_id and Job.objects.filter(pk=run.job_id,
                                                 status__in=ACTIVE_JOB_STATUSES).exists() and \
                    Job.objects.filter(pk=run.job_id, heartbeat_at__gte=cutoff).exists():
                continue  # its job is alive (e.g. fan-out children still running)
            next_run = fail_stalled_run(run)
        except Exception as exc:  # noqa: BLE001 - one run never stops the sweep
            reason, message = describe_problem(exc, run.sync)
            periodic_item_failed("syncs.sweep", reason, message, sync=run.sync,
                                 run_id=str(run.pk), exc_info=exc)
            continue
        if next_run:
            resumed.append(next_run)
    return resumed
