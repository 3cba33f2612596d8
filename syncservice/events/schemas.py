"""The shape of ``data`` per event kind: one JSON Schema each, checked when an event is
recorded and published in the OpenAPI document (``EventData<Kind>`` components)."""

from __future__ import annotations

from syncservice.events.models import EventKind

_ANY: dict = {}  # a cursor is whatever the source's cursor field holds
_COUNT = {"type": "integer", "minimum": 0}
_TEXT = {"type": "string", "maxLength": 4000}
_ID = {"type": "string", "format": "uuid"}
_WHEN = {"type": "string", "format": "date-time"}
_ENTITY = {
    "entity": {"type": "string", "description": "The entity (stream, table) of the sync"},
    "task": {"type": "string", "description": "The task: the entity, or entity@window start"},
    "window": {"type": ["array", "null"], "items": {"type": "string"},
               "description": "The cursor window [start, end) of a fan_out_window task"},
}


def _shape(description: str, properties: dict, required: tuple[str, ...] = ()) -> dict:
    shape = {"type": "object", "description": description, "properties": properties,
             "additionalProperties": False}
    if required:
        shape["required"] = list(required)
    return shape


DATA: dict[str, dict] = {
    EventKind.CREATED: _shape(
        "The subject was created (a run triggered, an export requested, a job enqueued).",
        {"triggered_by": {"type": "string"}, "run_mode": {"type": "string"},
         "attempt": {"type": "integer", "minimum": 1},
         "previous_attempt_run_id": {"type": ["string", "null"], "format": "uuid"},
         "resource_type": {"type": "string"}, "format": {"type": "string"},
         "actor": {"type": ["string", "null"]}, "job_id": _ID}),
    EventKind.STARTED: _shape(
        "A worker started it: the attempt and its fencing token (runs), the worker.",
        {"attempt": {"type": "integer", "minimum": 1}, "fence_token": _COUNT,
         "worker_id": {"type": "string"}, "job_id": _ID, "plan": {
             "type": "array", "items": {"type": "string"},
             "description": "The run's tasks, in order"}}),
    EventKind.ENTITY_STARTED: _shape(
        "A task of the run started reading an entity, from this checkpoint.",
        {**_ENTITY, "cursor": _ANY}, ("entity",)),
    EventKind.ENTITY_PROGRESS: _shape(
        "Rows read and written so far by this attempt's task, and the checkpoint its last "
        "batch committed. Recorded at most every EVENTS_PROGRESS_SECONDS per task.",
        {**_ENTITY, "rows_read": _COUNT, "rows_written": _COUNT, "batches": _COUNT,
         "cursor": _ANY}, ("entity", "rows_read", "rows_written")),
    EventKind.CHECKPOINT_COMMITTED: _shape(
        "A task's final checkpoint committed (a window completed, a replace swapped in, an "
        "entity read to its end): a next attempt resumes after it.",
        {**_ENTITY, "cursor": _ANY}, ("entity", "cursor")),
    EventKind.ENTITY_FINISHED: _shape(
        "A task finished: succeeded, failed (with the error), skipped or cancelled.",
        {**_ENTITY, "status": {"type": "string",
                               "enum": ["succeeded", "failed", "skipped", "cancelled"]},
         "rows_read": _COUNT, "rows_written": _COUNT, "cursor": _ANY, "error": _TEXT},
        ("entity", "status")),
    EventKind.FILE_PUBLISHED: _shape(
        "A complete file of the export was published.",
        {"index": {"type": "integer", "minimum": 1}, "filename": {"type": "string"},
         "size": _COUNT, "records_count": _COUNT, "sha256": {"type": "string"}},
        ("index", "filename")),
    EventKind.SUCCEEDED: _shape(
        "It finished successfully.",
        {"rows_read": _COUNT, "rows_written": _COUNT, "records_count": _COUNT,
         "files": _COUNT, "size": _COUNT, "expires_at": _WHEN}),
    EventKind.FAILED: _shape(
        "It failed, and why (``reason``: a short code or the exception).",
        {"reason": _TEXT, "error": _TEXT, "result_class": {"type": "string"},
         "retry_count": _COUNT, "max_retries": _COUNT}, ("reason",)),
    EventKind.RETRIED: _shape(
        "It will run again: a job's automatic retry (after ``scheduled_at``) or a manual "
        "retry; for a run, the next attempt.",
        {"reason": _TEXT, "retry_count": _COUNT, "scheduled_at": _WHEN, "manual": {
            "type": "boolean"}, "actor": {"type": ["string", "null"]},
         "next_attempt_run_id": _ID}, ("reason",)),
    EventKind.RESUMED: _shape(
        "A run that stopped heartbeating is resumed from its last checkpoint by a next "
        "attempt.",
        {"reason": _TEXT, "next_attempt_run_id": _ID, "attempt": {"type": "integer"}},
        ("reason", "next_attempt_run_id")),
    EventKind.REAPED: _shape(
        "A job's worker stopped heartbeating: requeued (``pending``) or failed.",
        {"reason": _TEXT, "status": {"type": "string", "enum": ["pending", "failed"]},
         "worker_id": {"type": "string"}, "heartbeat_at": {"type": ["string", "null"]},
         "retry_count": _COUNT}, ("reason", "status")),
    EventKind.CANCEL_REQUESTED: _shape(
        "A cancel was requested while it runs; it stops at its next step.",
        {"reason": _TEXT, "actor": {"type": ["string", "null"]}}),
    EventKind.CANCELLED: _shape(
        "It was cancelled.",
        {"reason": _TEXT, "actor": {"type": ["string", "null"]}}),
    EventKind.EXPIRED: _shape(
        "The export expired: its files are (or are about to be) deleted.",
        {"expires_at": {"type": ["string", "null"], "format": "date-time"}}),
}


def component_name(kind: str) -> str:
    return "EventData" + "".join(part.capitalize() for part in kind.split("_"))
