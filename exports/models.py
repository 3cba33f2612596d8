"""An export: a data set (a resource type) written as one or more files."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from syncservice.models import TimestampedModel


class ExportStatus(models.TextChoices):
    PENDING = "pending", "pending"
    PROCESSING = "processing", "processing"
    SUCCESS = "success", "success"
    FAILED = "failed", "failed"
    CANCELLED = "cancelled", "cancelled"
    EXPIRED = "expired", "expired"


ACTIVE_EXPORT_STATUSES = (ExportStatus.PENDING, ExportStatus.PROCESSING)


class Export(TimestampedModel):
    Status = ExportStatus

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE,
                                related_name="exports")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+")
    created_by_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    resource_type = models.CharField(max_length=200, db_index=True)
    format = models.CharField(max_length=20)
    status = models.CharField(max_length=16, choices=ExportStatus.choices,
                              default=ExportStatus.PENDING, db_index=True)
    filters = models.JSONField(default=dict, blank=True)
    fields = models.JSONField(default=list, blank=True)
    includes = models.JSONField(default=list, blank=True)
    dry_data = models.BooleanField(default=False)
    compress = models.BooleanField(default=False)
    records_count = models.BigIntegerField(null=True, blank=True)
    size = models.BigIntegerField(null=True, blank=True, db_index=True,
                                  help_text="Bytes, all files")
    filename = models.CharField(max_length=255, blank=True, default="", db_index=True)
    mime_type = models.CharField(max_length=100, blank=True, default="", db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    interrupted_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    errors_log = models.JSONField(null=True, blank=True)
    reference = models.CharField(max_length=255, blank=True, default="")
    reference_origin = models.CharField(max_length=255, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One pending or processing export per project and resource type.
            models.UniqueConstraint(
                fields=["project", "resource_type"],
                condition=Q(status__in=["pending", "processing"]),
                name="exports_export_one_active_per_type",
            ),
        ]
        # The list's default sort (-created_at, then -id) as a keyset (cursor pages).
        indexes = [models.Index(fields=["project", "-created_at", "-id"],
                                name="exports_export_project_keyset")]

    class JSONAPIMeta:
        resource_name = "exports"

    def __str__(self) -> str:
        return f"{self.resource_type} as {self.format} ({self.status})"


class ExportFile(TimestampedModel):
    """One published file of an export (the reference's ``file_id``)."""

    export = models.ForeignKey(Export, on_delete=models.CASCADE, related_name="files")
    index = models.PositiveIntegerField(help_text="1-based position among the export's files")
    storage_name = models.CharField(max_length=500)
    filename = models.CharField(max_length=255)
    size = models.BigIntegerField()
    records_count = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    mime_type = models.CharField(max_length=100)

    class Meta:
        ordering = ["export", "index"]
        constraints = [models.UniqueConstraint(fields=["export", "index"],
                                               name="exports_file_unique_index")]

    class JSONAPIMeta:
        resource_name = "export-files"

    def __str__(self) -> str:
        return self.filename
