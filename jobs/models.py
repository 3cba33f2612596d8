"""The job queue's one table: each row is a unit of work and the source of truth for its
state, whichever backend (native worker or Celery) runs it."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from syncservice.models import TimestampedModel


class JobStatus(models.TextChoices):
    PENDING = "pending", "pending"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"
    CANCELLED = "cancelled", "cancelled"


ACTIVE_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING)
FINISHED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(TimestampedModel):
    Status = JobStatus

    project = models.ForeignKey("accounts.Project", null=True, blank=True,
                                on_delete=models.CASCADE, related_name="jobs")
    job_class = models.CharField(max_length=200, db_index=True,
                                 help_text="Name of the registered handler")
    queue = models.CharField(max_length=100, default="default")
    payload = models.JSONField(default=dict, blank=True)
    priority = models.IntegerField(default=0, db_index=True, help_text="Higher runs first")
    status = models.CharField(max_length=16, choices=JobStatus.choices,
                              default=JobStatus.PENDING, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    retry_count = models.PositiveIntegerField(default=0)
    max_retries = models.PositiveIntegerField(default=3)
    # A short, filterable reason ("heartbeat_timeout", "ValueError: ..."); details beside it.
    error = models.CharField(max_length=500, blank=True, default="")
    # What failed (reason, type, message; the reaper's worker_id and heartbeat_at): served by
    # the API. The traceback (server paths) is kept apart, for the operators (the admin).
    error_details = models.JSONField(null=True, blank=True)
    # db_default: rows inserted by code that predates the column (a rolling deploy) get "".
    error_traceback = models.TextField(blank=True, default="", db_default="",
                                       help_text="Traceback of the last failure (admin only)")
    # NULL (not "") means "no key": the partial unique index ignores it.
    unicity = models.CharField(max_length=255, null=True, blank=True, db_index=True,  # noqa: DJ001
                               help_text="At most one pending or running job per key")
    scheduled_at = models.DateTimeField(default=timezone.now, db_index=True,
                                        help_text="Not run before this time")
    # NULL while running means claimed ahead by worker_id, not started yet (see services).
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker_id = models.CharField(max_length=200, blank=True, default="")
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    checkpoint = models.JSONField(null=True, blank=True,
                                  help_text="Last state saved by the handler (ctx.checkpoint)")
    # The API key or user that enqueued it; NULL for the system (schedulers, sweeps).
    created_by_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["unicity"],
                condition=Q(status__in=["pending", "running"]) & Q(unicity__isnull=False),
                name="jobs_job_one_active_per_unicity",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100),
                                   name="jobs_job_progress_lte_100"),
        ]
        indexes = [
            # The claim query: due pending jobs by priority, then schedule, then age, then id,
            # of one queue (run_worker --queue) or of all (without it the queue-led index
            # cannot give that order, so every claim sorted all the pending rows).
            models.Index(fields=["queue", "-priority", "scheduled_at", "created_at", "id"],
                         condition=Q(status="pending"), name="jobs_job_claim"),
            models.Index(fields=["-priority", "scheduled_at", "created_at", "id"],
                         condition=Q(status="pending"), name="jobs_job_claim_any"),
            # The reaper: running jobs by heartbeat.
            models.Index(fields=["heartbeat_at"], condition=Q(status="running"),
                         name="jobs_job_running_heartbeat"),
            # The list's default sort (-created_at, then -id) as a keyset: cursor pages
            # (page[after]) seek into it, whatever their depth.
            models.Index(fields=["project", "-created_at", "-id"],
                         name="jobs_job_project_keyset"),
            models.Index(fields=["progress"], name="jobs_job_progress"),
            models.Index(fields=["retry_count"], name="jobs_job_retry_count"),
            models.Index(fields=["error"], name="jobs_job_error"),
        ]

    class JSONAPIMeta:
        resource_name = "jobs"

    def __str__(self) -> str:
        return f"{self.job_class} {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES
