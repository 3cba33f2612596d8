"""What happened to a run, an export or a job, as an append-only timeline of ``events``.

One generic table (``subject_type`` + ``subject_id``) rather than a foreign key per app: the
apps depend downward only (exports/syncs → jobs → syncservice), so the table lives below them
and each app records its own subjects' lifecycle (``syncservice.events.services.record``).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class SubjectType(models.TextChoices):
    """The JSON:API type of the resource an event is about."""

    EXPORTS = "exports", "exports"
    SYNC_RUNS = "sync-runs", "sync-runs"
    JOBS = "jobs", "jobs"


class EventKind(models.TextChoices):
    CREATED = "created", "created"
    STARTED = "started", "started"
    ENTITY_STARTED = "entity_started", "entity started"
    ENTITY_PROGRESS = "entity_progress", "entity progress"
    CHECKPOINT_COMMITTED = "checkpoint_committed", "checkpoint committed"
    ENTITY_FINISHED = "entity_finished", "entity finished"
    FILE_PUBLISHED = "file_published", "file published"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"
    RETRIED = "retried", "retried"
    RESUMED = "resumed", "resumed"
    REAPED = "reaped", "reaped"
    CANCEL_REQUESTED = "cancel_requested", "cancel requested"
    CANCELLED = "cancelled", "cancelled"
    EXPIRED = "expired", "expired"


class Event(models.Model):
    Kind = EventKind
    SubjectType = SubjectType

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The subject's project (NULL for system jobs such as periodic sweeps): tenancy scoping.
    project = models.ForeignKey("accounts.Project", null=True, blank=True,
                                on_delete=models.CASCADE, related_name="+")
    subject_type = models.CharField(max_length=32, choices=SubjectType.choices)
    subject_id = models.UUIDField()
    kind = models.CharField(max_length=32, choices=EventKind.choices, db_index=True)
    message = models.CharField(max_length=500, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # A subject's timeline (the nested lists, the include prefetch, the admin tables).
            models.Index(fields=["subject_type", "subject_id", "created_at"],
                         name="events_subject_created"),
            models.Index(fields=["project", "-created_at"], name="events_project_created"),
        ]

    class JSONAPIMeta:
        resource_name = "events"

    def __str__(self) -> str:
        return f"{self.subject_type}/{self.subject_id} {self.kind}"
