"""A sync run's lifecycle as events (``syncservice.events``): created, started (attempt and
fencing token), each task's start, progress, final checkpoint and end, then succeeded, failed
(why), cancelled, retried or resumed by a next attempt.

Each function is called inside the transaction of the state change it reports (the run row
update, ``trigger``'s insert), so an event never outlives a change that rolled back; the
two that report warehouse commits (a task's checkpoint taken, its final checkpoint) are
recorded right after that commit. Progress is bounded: at most one event per task every
``EVENTS_PROGRESS_SECONDS`` (the first batch always), however many batches the task writes.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings

from syncs.models import SyncRun
from syncservice.events import services as events
from syncservice.events.models import EventKind

_progress_lock = threading.Lock()
# (run id, task key) -> (monotonic time of the last progress event, batches since the start)
_progress: dict[tuple[str, str], tuple[float, int]] = {}


def _json_safe(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool, list, dict)) \
        else str(value)


def _task_data(run: SyncRun, task_key: str) -> dict:
    task = run.summary.get("tasks", {}).get(task_key, {})
    data = {"entity": task.get("entity", task_key), "task": task_key}
    if task.get("window"):
        data["window"] = list(task["window"])
    return data


def created(run: SyncRun, *, actor: str = "", previous: SyncRun | None = None) -> None:
    events.record_for(run, EventKind.CREATED, {
        "triggered_by": run.triggered_by, "run_mode": run.run_mode,
        "attempt": run.attempt_number,
        "previous_attempt_run_id": str(previous.pk) if previous else None,
        "actor": actor or None, **({"job_id": str(run.job_id)} if run.job_id else {})})
    if previous is None:
        return
    if run.triggered_by == SyncRun.TriggeredBy.AUTO_RESUME:
        events.record_for(previous, EventKind.RESUMED, {
            "reason": previous.result_reason_code or "heartbeat_timeout",
            "next_attempt_run_id": str(run.pk), "attempt": run.attempt_number})
    elif run.triggered_by == SyncRun.TriggeredBy.RETRY:
        events.record_for(previous, EventKind.RETRIED, {
            "reason": "retried", "manual": True, "actor": actor or None,
            "next_attempt_run_id": str(run.pk)})


def started(run_id: Any, *, fence_token: int, worker_id: str, job_id: Any) -> None:
    row = SyncRun.objects.filter(pk=run_id).values("project_id", "attempt_number").first()
    if row is None:
        return
    data = {"attempt": row["attempt_number"], "fence_token": fence_token or 0,
            "worker_id": str(worker_id or "")}
    if job_id is not None:
        data["job_id"] = str(job_id)
    events.record(EventKind.STARTED, subject_type="sync-runs", subject_id=run_id,
                  project_id=row["project_id"], data=data)


def entity_started(run: SyncRun, task_key: str, cursor: Any) -> None:
    with _progress_lock:
        _progress.pop((str(run.pk), task_key), None)
    events.record_for(run, EventKind.ENTITY_STARTED,
                      {**_task_data(run, task_key), "cursor": _json_safe(cursor)})


def progress(run: SyncRun, task_key: str, cursor: Any) -> None:
    """A batch of the task committed (``run`` is the locked row, its summary counted)."""
    key = (str(run.pk), task_key)
    now = time.monotonic()
    with _progress_lock:
        last, batches = _progress.get(key, (None, 0))
        batches += 1
        due = last is None or now - last >= settings.EVENTS_PROGRESS_SECONDS
        _progress[key] = (now if due else last, batches)
    if not due:
        return
    data = _task_data(run, task_key)
    counts = run.summary.get("entities", {}).get(data["entity"], {})
    events.record_for(run, EventKind.ENTITY_PROGRESS, {
        **data, "rows_read": counts.get("rows_read", 0),
        "rows_written": counts.get("rows_written", 0), "batches": batches,
        "cursor": _json_safe(cursor)})


def checkpoint_committed(run: SyncRun, task_key: str, cursor: Any) -> None:
    events.record_for(run, EventKind.CHECKPOINT_COMMITTED,
                      {**_task_data(run, task_key), "cursor": _json_safe(cursor)})


def entity_finished(run: SyncRun, task_key: str) -> None:
    with _progress_lock:
        _progress.pop((str(run.pk), task_key), None)
    data = _task_data(run, task_key)
    task = run.summary.get("tasks", {}).get(task_key, {})
    counts = run.summary.get("entities", {}).get(data["entity"], {})
    data.update({"status": task.get("status", "failed"),
                 "rows_read": counts.get("rows_read", 0),
                 "rows_written": counts.get("rows_written", 0)})
    if counts.get("cursor") is not None:
        data["cursor"] = _json_safe(counts["cursor"])
    if task.get("error"):
        data["error"] = str(task["error"])[:4000]
    events.record_for(run, EventKind.ENTITY_FINISHED, data)


def closed(run: SyncRun) -> None:
    """The run's outcome (``finalize``): succeeded, or failed with why."""
    if run.status == SyncRun.Status.SUCCEEDED:
        events.record_for(run, EventKind.SUCCEEDED, {
            "rows_read": run.summary.get("rows_read", 0),
            "rows_written": run.summary.get("rows_written", 0)})
    else:
        failed(run, run.result_reason_code or "failed", run.error)


def failed(run: SyncRun, reason: str, error: str = "") -> None:
    data = {"reason": reason[:4000], "result_class": run.result_class or "failed"}
    if error:
        data["error"] = error[:4000]
    events.record_for(run, EventKind.FAILED, data)


def cancelled(run: SyncRun, *, reason: str = "", actor: str = "",
              requested: bool = False) -> None:
    events.record_for(run, EventKind.CANCEL_REQUESTED if requested else EventKind.CANCELLED,
                      {"reason": reason[:4000], "actor": actor or None})
