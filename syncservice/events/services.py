"""Recording events (``record``), reading a page's timelines at once (``attach_events``) and
keeping the table bounded (``prune_events``).

Record an event in the transaction of the state change it reports, so an event never claims
something that rolled back; where the change is committed by code that cannot be hooked inside
its transaction (the job queue's hot path), record it right after the commit.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from syncservice.events.models import Event, EventKind
from syncservice.events.schemas import DATA

logger = logging.getLogger("events")

PRUNE_BATCH = 1000

_clock_lock = threading.Lock()
_last_moment: datetime | None = None


def _moment() -> datetime:
    """Now, but strictly after the last event this process recorded: a subject's events
    (ordered by created_at, then id) read in the order they were recorded even when two fall
    in the same microsecond."""
    global _last_moment
    now = timezone.now()
    with _clock_lock:
        if _last_moment is not None and now <= _last_moment:
            now = _last_moment + timedelta(microseconds=1)
        _last_moment = now
    return now


def _subject_type(subject: Any) -> str:
    return subject.JSONAPIMeta.resource_name


def _message(kind: str, data: dict) -> str:
    entity = data.get("entity")
    rows = (f"{data['rows_read']} rows read, {data['rows_written']} written"
            if "rows_read" in data and "rows_written" in data else "")
    texts = {
        EventKind.CREATED: "Created" + (f" ({data['triggered_by']}" + (
            f", attempt {data['attempt']})" if data.get("attempt") else ")")
            if data.get("triggered_by") else ""),
        EventKind.STARTED: "Started" + (f", attempt {data['attempt']}" if "attempt" in data
                                        else "") + (
            f" (fence token {data['fence_token']})" if "fence_token" in data else ""),
        EventKind.ENTITY_STARTED: f"{entity}: started"
                                  + (f" after cursor {data['cursor']!r}"
                                     if data.get("cursor") is not None else ""),
        EventKind.ENTITY_PROGRESS: f"{entity}: {rows}"
                                   + (f", checkpoint {data['cursor']!r}"
                                      if data.get("cursor") is not None else ""),
        EventKind.CHECKPOINT_COMMITTED: f"{entity}: checkpoint {data.get('cursor')!r} committed",
        EventKind.ENTITY_FINISHED: f"{entity}: {data.get('status')}"
                                   + (f" ({rows})" if rows else "")
                                   + (f": {data['error']}" if data.get("error") else ""),
        EventKind.FILE_PUBLISHED: f"File {data.get('index')} published: {data.get('filename')}"
                                  + (f" ({data['records_count']} records)"
                                     if "records_count" in data else ""),
        EventKind.SUCCEEDED: "Succeeded" + (f": {rows}" if rows else "") + (
            f": {data['records_count']} records" if "records_count" in data else ""),
        EventKind.FAILED: f"Failed: {data.get('reason')}",
        EventKind.RETRIED: ("Retried manually" if data.get("manual") else "Will retry")
                           + f": {data.get('reason')}",
        EventKind.RESUMED: f"Resumed by a next attempt ({data.get('reason')})",
        EventKind.REAPED: f"Reaped ({data.get('reason')}): now {data.get('status')}",
        EventKind.CANCEL_REQUESTED: "Cancel requested"
                                    + (f": {data['reason']}" if data.get("reason") else ""),
        EventKind.CANCELLED: "Cancelled" + (f": {data['reason']}" if data.get("reason")
                                            else ""),
        EventKind.EXPIRED: "Expired: its files are deleted",
    }
    return texts.get(kind, kind)[:500]


def build(kind: str, *, subject_type: str, subject_id: Any, project_id: Any,
          data: dict | None = None, message: str | None = None) -> Event:
    """An unsaved event, its ``data`` checked against the kind's schema (a mistake here is a
    programming error: ``ValueError``)."""
    # The validator (jsonschema) loads with the first event built, not with the app: a worker
    # whose jobs all succeed records none.
    from syncservice.jsonschema import validate

    data = dict(data or {})
    schema = DATA.get(kind)
    if schema is None:
        raise ValueError(f"Unknown event kind {kind!r}")
    problems = validate(schema, data)
    if problems:
        pointer, text = problems[0]
        raise ValueError(f"Event {kind} data at {pointer or '/'}: {text}")
    return Event(kind=kind, subject_type=subject_type, subject_id=subject_id,
                 project_id=project_id, data=data,
                 message=message if message is not None else _message(kind, data),
                 created_at=_moment())


def record(kind: str, *, subject_type: str, subject_id: Any, project_id: Any,
           data: dict | None = None, message: str | None = None) -> Event:
    """Insert one event (in the caller's transaction, if any)."""
    event = build(kind, subject_type=subject_type, subject_id=subject_id,
                  project_id=project_id, data=data, message=message)
    event.save(force_insert=True)
    return event


def record_for(subject: Any, kind: str, data: dict | None = None,
               message: str | None = None) -> Event:
    """``record`` about a model instance (its JSON:API type, pk and project)."""
    return record(kind, subject_type=_subject_type(subject), subject_id=subject.pk,
                  project_id=getattr(subject, "project_id", None), data=data, message=message)


def record_many(events: Iterable[Event]) -> list[Event]:
    return Event.objects.bulk_create(list(events))


# --- reading -------------------------------------------------------------------------------

def events_of(subject_type: str, subject_ids: Iterable[Any]):
    return Event.objects.filter(subject_type=subject_type,
                                subject_id__in=list(subject_ids)).order_by("created_at", "id")


def attach_events(instances: Iterable[Any], attr: str = "prefetched_events") -> None:
    """One query for the events of every instance (a page, or one resource): each gets them
    as ``attr`` (oldest first), which the ``events`` relationship renders."""
    instances = [instance for instance in instances if instance is not None]
    if not instances:
        return
    by_subject: dict[Any, list[Event]] = defaultdict(list)
    for event in events_of(_subject_type(instances[0]), [i.pk for i in instances]):
        by_subject[event.subject_id].append(event)
    for instance in instances:
        setattr(instance, attr, by_subject.get(instance.pk, []))


# --- pruning -------------------------------------------------------------------------------

def _delete_batches(queryset, label: str) -> tuple[int, int]:
    """Delete ``queryset``'s rows PRUNE_BATCH at a time, each batch in its own transaction:
    a batch that fails is logged and counted, and pruning goes on with the next."""
    deleted = errors = 0
    failed: set = set()
    while True:
        ids = list(queryset.exclude(pk__in=failed).values_list("pk", flat=True)[:PRUNE_BATCH])
        if not ids:
            return deleted, errors
        try:
            with transaction.atomic():
                deleted += Event.objects.filter(pk__in=ids).delete()[0]
        except Exception as exc:  # noqa: BLE001 - one batch never stops the prune
            errors += 1
            failed.update(ids)
            logger.warning("events.prune: a batch of %s failed: %s: %s", label,
                           type(exc).__name__, exc, exc_info=exc)
            _count_error(type(exc).__name__)


def _count_error(reason: str) -> None:
    from syncservice.observability import metrics

    try:
        metrics.SWEEP_ERRORS.labels(sweep="events.prune", reason=reason).inc()
    except Exception:  # noqa: BLE001 - counting must never stop the prune
        logger.exception("Could not count an events.prune error")


def prune_events(now: datetime | None = None) -> dict[str, int]:
    """Delete events older than ``EVENTS_RETENTION_DAYS`` and, per subject, all but the newest
    ``EVENTS_MAX_PER_SUBJECT`` (0 turns either bound off)."""
    now = now or timezone.now()
    result = {"expired": 0, "over_limit": 0, "errors": 0}
    days = settings.EVENTS_RETENTION_DAYS
    if days:
        deleted, errors = _delete_batches(
            Event.objects.filter(created_at__lt=now - timedelta(days=days)), "expired events")
        result["expired"], result["errors"] = deleted, errors
    limit = settings.EVENTS_MAX_PER_SUBJECT
    if limit:
        ranked = Event.objects.annotate(rank=Window(
            RowNumber(), partition_by=[F("subject_type"), F("subject_id")],
            order_by=[F("created_at").desc(), F("id").desc()]))
        deleted, errors = _delete_batches(ranked.filter(rank__gt=limit), "events over the limit")
        result["over_limit"] = deleted
        result["errors"] += errors
    return result
