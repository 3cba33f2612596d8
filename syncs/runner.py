"""Executing a sync run on the jobs engine.

A run is a plan of tasks: one per entity, or (``fan_out_window``) one per cursor window of a
windowable entity. ``sequential`` runs every task inline in the run's job, in ``depends_on``
order; the fan-out modes enqueue a child job per task whose dependencies are done, and the
last child to finish closes the run. Every batch commits its rows with its checkpoint
(syncs.loading), so a next attempt resumes where the last one stopped.

Fencing: an attempt gets a token when it starts (larger than every earlier attempt's of the
sync), takes each checkpoint row with it, and moves the row only while it still holds it. The
run row is changed only while the run is running. An attempt that stalled past its heartbeat
and wakes up after a newer attempt took over raises ``StaleAttempt`` at its next write and
stops with nothing committed (syncs.loading.fence).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime, parse_duration

from jobs import services as job_services
from jobs.context import JobCancelled, JobInterrupted
from syncs import events as run_events
from syncs import services
from syncs.loading import StaleAttempt, TableLoader, bound_idle_transaction, read_checkpoint, take
from syncs.models import Sync, SyncRun, TableBinding
from syncs.pipeline import read_ahead
from syncs.providers import base as catalog
from syncs.signals import run_finished

logger = logging.getLogger("syncs.runner")

DONE = "succeeded"
FINAL_TASK_STATES = {"succeeded", "failed", "skipped", "cancelled"}


# --- the plan -------------------------------------------------------------------------------

def entity_order(sync: Sync) -> list[str]:
    """The sync's entities with each one after what it depends on (stable otherwise)."""
    spec = catalog.get_provider(sync.connection.provider)
    deps = {r.entity_key: [d for d in r.depends_on if d in sync.entities]
            for r in (spec.resources if spec else [])}
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(entity: str) -> None:
        if entity in ordered or entity in visiting:
            return
        visiting.add(entity)
        for dependency in deps.get(entity, []):
            visit(dependency)
        ordered.append(entity)

    for entity in sync.entities:
        visit(entity)
    return ordered


def _windows(sync: Sync, binding: TableBinding, run: SyncRun) -> list[tuple[str, str]] | None:
    """The cursor windows of an entity in fan_out_window mode (None: not windowable)."""
    spec = catalog.get_provider(sync.connection.provider)
    resource = next((r for r in (spec.resources if spec else [])
                     if r.entity_key == binding.entity_key), None)
    slicing = dict(getattr(resource, "slicing", {}) or {})
    slicing.update(sync.execution_config.get("slicing", {}).get(binding.entity_key, {}))
    if not slicing and not sync.execution_config.get("window"):
        return None
    size = parse_duration(sync.execution_config.get("window") or
                          slicing.get("default_window") or "P1D") or timedelta(days=1)
    start_raw = None if run.run_mode == SyncRun.RunMode.FULL_REFRESH else \
        read_checkpoint(binding)
    start_raw = start_raw or sync.source_config.get("start_date") or \
        sync.execution_config.get("start_date")
    start = parse_datetime(str(start_raw)) if start_raw else None
    if start is None:
        start = timezone.now() - timedelta(days=int(sync.execution_config.get(
            "lookback_days", 30)))
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    end = timezone.now()
    windows = []
    while start < end:
        stop = min(start + size, end)
        windows.append((_iso(start), _iso(stop)))
        start = stop
    return windows


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_plan(run: SyncRun) -> dict[str, dict]:
    sync = run.sync
    spec = catalog.get_provider(sync.connection.provider)
    deps = {r.entity_key: [d for d in r.depends_on if d in sync.entities]
            for r in (spec.resources if spec else [])}
    bindings = {b.entity_key: b for b in sync.table_bindings.all()}
    tasks: dict[str, dict] = {}
    for entity in entity_order(sync):
        windows = None
        if sync.execution_mode == Sync.ExecutionMode.FAN_OUT_WINDOW and entity in bindings:
            windows = _windows(sync, bindings[entity], run)
        if windows:
            for start, stop in windows:
                tasks[f"{entity}@{start}"] = {"entity": entity, "window": [start, stop],
                                              "deps": deps.get(entity, []), "status": "pending"}
        else:
            tasks[entity] = {"entity": entity, "window": None, "deps": deps.get(entity, []),
                             "status": "pending"}
    return tasks


# --- summary bookkeeping --------------------------------------------------------------------

def _locked(run_id):
    return SyncRun.objects.select_for_update().select_related("sync__connection").get(pk=run_id)


def update_run(run_id, change) -> SyncRun:
    """Apply ``change(run)`` to the locked row of a running run, and record a heartbeat.
    A run that is not running any more (failed by the reaper, cancelled) is history: its
    attempt is stale and stops (``StaleAttempt``) rather than write into it."""
    with transaction.atomic():
        bound_idle_transaction("default")
        run = _locked(run_id)
        if run.status != SyncRun.Status.RUNNING:
            raise StaleAttempt(f"Run {run_id} is {run.status}: this attempt stops.")
        change(run)
        run.last_heartbeat_at = timezone.now()
        run.save()
    return run


def _entity_summary(run: SyncRun, entity: str) -> dict:
    return run.summary.setdefault("entities", {}).setdefault(
        entity, {"status": "pending", "rows_read": 0, "rows_written": 0})


# --- executing a task -----------------------------------------------------------------------

def run_task(ctx, run_id, task_key: str) -> None:
    run = SyncRun.objects.select_related("sync__connection").get(pk=run_id)
    task = run.summary["tasks"][task_key]
    sync = run.sync
    entity = task["entity"]
    binding = sync.table_bindings.get(entity_key=entity)

    def started(r):
        r.summary["tasks"][task_key]["status"] = "running"
        entity_summary = _entity_summary(r, entity)
        entity_summary["status"] = "running"
        entity_summary.setdefault("started_at", _iso(timezone.now()))

    update_run(run.pk, started)
    window = tuple(task["window"]) if task["window"] else None
    state_key = task_key if window else None
    full_refresh = run.run_mode == SyncRun.RunMode.FULL_REFRESH
    # From here on, an older attempt's batches of this entity (or window) cannot commit.
    lease = take(binding, run.fence_token, run.pk, state_key)
    cursor = None if full_refresh else lease.cursor
    run_events.entity_started(run, task_key, cursor)  # events: where this attempt starts
    if window and cursor is not None and cursor >= window[1]:
        _finish_task(run.pk, task_key, "succeeded")  # done by an earlier attempt
        return
    if window and cursor is not None:
        window = (cursor, window[1])
    source = services.open_connection_source(
        sync.connection, {**sync.connection.config, **sync.source_config})
    loader = TableLoader(binding, run.pk, lease=lease,
                         staging=True if full_refresh and not window else None)
    loader.begin()
    reached = cursor
    batches = source.read(entity, cursor=None if window else cursor, window=window,
                          entity_config=sync.source_config.get("entities", {}).get(entity))
    # The next pages are read while a batch is written (syncs.pipeline); each write still
    # commits its rows with their checkpoint, in the source's order.
    with read_ahead(batches, using=(DEFAULT_DB_ALIAS, loader.using),
                    on_wait=ctx.raise_if_cancelled) as batches:
        for batch in batches:
            # Before writing: a cancelled run, or a job reaped from this worker (a zombie),
            # writes nothing more; the batch is read again by the next attempt.
            ctx.heartbeat()
            written = loader.write(batch.records, batch.cursor)
            reached = batch.cursor if batch.cursor is not None else reached
            read_count = len(batch.records)

            def counted(r, read=read_count, written=written, reached=reached):
                entity_summary = _entity_summary(r, entity)
                entity_summary["rows_read"] += read
                entity_summary["rows_written"] += written
                if reached is not None:
                    entity_summary["cursor"] = reached
                r.summary["rows_read"] = r.summary.get("rows_read", 0) + read
                r.summary["rows_written"] = r.summary.get("rows_written", 0) + written
                run_events.progress(r, task_key, reached)  # events: throttled, with the change

            update_run(run.pk, counted)
    if window:
        lease.commit(window[1])  # this window is complete
    else:
        loader.finish(reached)
    run_events.checkpoint_committed(run, task_key, window[1] if window else reached)  # events
    _finish_task(run.pk, task_key, "succeeded")


def _finish_task(run_id, task_key: str, status: str, error: str = "") -> None:
    def finished(r):
        task = r.summary["tasks"][task_key]
        task["status"] = status
        if error:
            task["error"] = error
        entity = task["entity"]
        siblings = [t for t in r.summary["tasks"].values() if t["entity"] == entity]
        if all(t["status"] in FINAL_TASK_STATES for t in siblings):
            entity_summary = _entity_summary(r, entity)
            states = {t["status"] for t in siblings}
            entity_summary["status"] = "succeeded" if states == {"succeeded"} else (
                "cancelled" if "cancelled" in states else "failed")
            entity_summary["completed_at"] = _iso(timezone.now())
            errors = [t.get("error") for t in siblings if t.get("error")]
            if errors:
                entity_summary["error"] = errors[0]
            windows = [t["window"] for t in siblings if t.get("window")]
            if windows and entity_summary["status"] == "succeeded":
                entity_summary["cursor"] = max(w[1] for w in windows)
        run_events.entity_finished(r, task_key)  # events: with the change

    run = update_run(run_id, finished)
    entity = run.summary["tasks"][task_key]["entity"]
    windows = [t["window"] for t in run.summary["tasks"].values()
               if t["entity"] == entity and t.get("window")]
    if windows and run.summary["entities"][entity]["status"] == "succeeded":
        binding = run.sync.table_bindings.get(entity_key=entity)
        take(binding, run.fence_token, run.pk).commit(max(w[1] for w in windows))


# --- the run --------------------------------------------------------------------------------

def start_run(ctx, run_id) -> dict:
    """The run's job: mark it running, plan it, then run the plan inline (sequential) or hand
    the ready tasks to child jobs (fan-out)."""
    now = timezone.now()
    sync_id = SyncRun.objects.filter(pk=run_id).values_list("sync_id", flat=True).first()
    with transaction.atomic():
        # The attempt's fencing token: the sync's counter, moved on under its row lock.
        Sync.objects.filter(pk=sync_id).update(fence_epoch=F("fence_epoch") + 1)
        token = Sync.objects.filter(pk=sync_id).values_list("fence_epoch", flat=True).first()
        started = SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.PENDING).update(
            status=SyncRun.Status.RUNNING, started_at=now, last_heartbeat_at=now,
            executor_id=ctx.worker_id, backend_run_ref=str(ctx.job_id), updated_at=now,
            fence_token=token or 0)
        if started:  # events: the attempt and its token, with the change
            run_events.started(run_id, fence_token=token or 0, worker_id=ctx.worker_id,
                               job_id=ctx.job_id)
    if not started:
        return {"skipped": "the run is not pending"}
    run = SyncRun.objects.select_related("sync__connection").get(pk=run_id)
    plan = build_plan(run)
    update_run(run_id, lambda r: r.summary.update(tasks=plan))
    if run.execution_mode == Sync.ExecutionMode.SEQUENTIAL:
        for task_key in plan:
            if not _dependencies_ready(run_id, task_key):
                continue
            _guarded_task(ctx, run_id, task_key)
        finalize(run_id)
    else:
        dispatch_ready(run_id)
    return {"run_id": str(run_id)}


def _dependencies_ready(run_id, task_key: str) -> bool:
    """True when the task may run; marks it skipped when a dependency did not succeed."""
    run = SyncRun.objects.get(pk=run_id)
    tasks = run.summary["tasks"]
    task = tasks[task_key]
    dep_states = [t["status"] for t in tasks.values() if t["entity"] in task["deps"]]
    if all(state == DONE for state in dep_states):
        return True
    if any(state in FINAL_TASK_STATES - {DONE} for state in dep_states):
        _finish_task(run_id, task_key, "skipped", "a dependency did not succeed")
    return False


def _guarded_task(ctx, run_id, task_key: str) -> None:
    try:
        run_task(ctx, run_id, task_key)
    except JobCancelled:
        _finish_task(run_id, task_key, "cancelled", "cancelled")
        close_cancelled(run_id)
        raise
    except JobInterrupted:
        raise
    except Exception as exc:  # noqa: BLE001 - one entity's failure is recorded, others go on
        logger.exception("Task %s of run %s failed", task_key, run_id)
        _finish_task(run_id, task_key, "failed", f"{type(exc).__name__}: {exc}")


def run_child_task(ctx, run_id, task_key: str) -> None:
    run = SyncRun.objects.get(pk=run_id)
    if run.status != SyncRun.Status.RUNNING:
        return
    _guarded_task(ctx, run_id, task_key)
    dispatch_ready(run_id)


def dispatch_ready(run_id) -> None:
    """Enqueue a child job for each task whose dependencies succeeded; close the run when
    every task has finished."""
    with transaction.atomic():
        run = _locked(run_id)
        if run.status != SyncRun.Status.RUNNING:
            return
        tasks = run.summary["tasks"]
        for key, task in tasks.items():
            if task["status"] != "pending":
                continue
            dep_states = [t["status"] for t in tasks.values() if t["entity"] in task["deps"]]
            if any(s in FINAL_TASK_STATES - {DONE} for s in dep_states):
                task["status"] = "skipped"
                task["error"] = "a dependency did not succeed"
                _entity_summary(run, task["entity"])["status"] = "failed"
            elif all(s == DONE for s in dep_states):
                task["status"] = "queued"
                job_services.enqueue(services.TASK_JOB, {"run_id": str(run.pk), "task": key},
                                     project=run.sync.project, max_retries=0,
                                     unicity=f"sync-run:{run.pk}:{key}",
                                     queue=run.sync.execution_config.get("queue", "default"))
        run.last_heartbeat_at = timezone.now()
        run.save()
    finalize(run_id)


def close_cancelled(run_id) -> None:
    now = timezone.now()
    with transaction.atomic():
        updated = SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.RUNNING).update(
            status=SyncRun.Status.CANCELLED, result_class=SyncRun.ResultClass.CANCELLED,
            result_reason_code="cancelled", completed_at=now, updated_at=now)
        if updated:  # events: with the change
            run = SyncRun.objects.get(pk=run_id)
            run_events.cancelled(run, reason=run.cancel_reason, actor=run.cancel_requested_by)
    if updated:
        services.cancel_jobs(SyncRun.objects.get(pk=run_id))
        run_finished.send_robust(sender=SyncRun, run_id=run_id)


def finalize(run_id) -> SyncRun | None:
    """Close the run once every task is final: success, partial or failed."""
    with transaction.atomic():
        run = _locked(run_id)
        if run.status != SyncRun.Status.RUNNING:
            return None
        tasks = run.summary.get("tasks", {})
        if any(t["status"] not in FINAL_TASK_STATES for t in tasks.values()):
            return None
        entity_states = [e.get("status") for e in run.summary.get("entities", {}).values()]
        failed = [t for t in tasks.values() if t["status"] != DONE]
        now = timezone.now()
        if not failed:
            run.status, run.result_class, run.result_reason_code = (
                SyncRun.Status.SUCCEEDED, SyncRun.ResultClass.SUCCESS, "completed")
        else:
            partial = DONE in entity_states
            run.status = SyncRun.Status.FAILED
            run.result_class = SyncRun.ResultClass.PARTIAL if partial else \
                SyncRun.ResultClass.FAILED
            run.result_reason_code = "entity_failed"
            run.error = "; ".join(f"{t['entity']}: {t.get('error', t['status'])}"
                                  for t in failed)[:4000]
        run.completed_at = now
        run.last_heartbeat_at = now
        run.save()
        run_events.closed(run)  # events: with the change
    services.record_outcome(run)
    run_finished.send_robust(sender=SyncRun, run_id=run_id, run=run)
    return run


def settings_timeout() -> float:
    return settings.SYNCS_RUN_HEARTBEAT_TIMEOUT_SECONDS


def entity_progress(run: SyncRun) -> dict[str, Any]:
    return {key: value.get("status") for key, value in run.summary.get("entities", {}).items()}
