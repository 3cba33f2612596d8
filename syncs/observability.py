"""Sync runs and loaded rows as log lines and metrics (connected in ``SyncsConfig.ready``)."""

from __future__ import annotations

import structlog

from syncs.signals import rows_loaded, run_finished
from syncservice.observability import metrics
from syncservice.observability.receivers import never_raises

run_log = structlog.stdlib.get_logger("syncs.lifecycle")


@never_raises
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


@never_raises
def on_rows_loaded(sender, binding=None, rows=0, **kwargs) -> None:
    if rows:
        load_mode = getattr(binding, "load_mode", "") or "unknown"
        metrics.ROWS_LOADED.labels(load_mode=load_mode).inc(rows)


def connect() -> None:
    run_finished.connect(on_run_finished, dispatch_uid="observability.run_finished")
    rows_loaded.connect(on_rows_loaded, dispatch_uid="observability.rows_loaded")
