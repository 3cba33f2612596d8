"""Connections to source systems, syncs (what to import and how), their table bindings,
runs (attempts, heartbeats, results) and per-entity cursor checkpoints."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from syncservice.models import TimestampedModel

PROVIDERS = ("shopify", "http_api", "flexiroam", "starlink", "s3", "google_drive",
             "msft_sharepoint", "klaviyo", "amazon_sp", "salesforce", "netsuite", "sqlserver",
             "postgres", "mlflow", "sftp", "gmail_inbox", "dropbox", "rydership", "gorgias",
             "redo", "bullhorn")


class Connection(TimestampedModel):
    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE,
                                related_name="connections")
    provider = models.CharField(max_length=40, choices=[(p, p) for p in PROVIDERS],
                                db_index=True)
    name = models.CharField(max_length=255)
    config = models.JSONField(default=dict, blank=True)
    # Fernet token of the JSON secrets (syncs.secrets); never serialized anywhere.
    secrets_encrypted = models.TextField(blank=True, default="", editable=False)
    last_check_at = models.DateTimeField(null=True, blank=True)
    last_check_status = models.CharField(max_length=16, blank=True, default="")
    last_check_error = models.TextField(blank=True, default="")
    created_by = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"],
                                               name="syncs_connection_unique_name")]

    class JSONAPIMeta:
        resource_name = "connections"

    def __str__(self) -> str:
        return f"{self.name} ({self.provider})"


class Sync(TimestampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        PAUSED = "paused"
        ERROR = "error"
        ARCHIVED = "archived"

    class ExecutionBackend(models.TextChoices):
        NATIVE = "native"
        PREFECT = "prefect"
        TEMPORAL = "temporal"
        EXTERNAL = "external"

    class ExecutionMode(models.TextChoices):
        SEQUENTIAL = "sequential"
        FAN_OUT_ENTITY = "fan_out_entity"
        FAN_OUT_WINDOW = "fan_out_window"

    class TriggerMode(models.TextChoices):
        MANUAL = "manual"
        SCHEDULED = "scheduled"
        ON_CREATE = "on_create"

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE,
                                related_name="syncs")
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="syncs")
    name = models.CharField(max_length=255)
    slug = models.SlugField(max_length=255)
    entities = models.JSONField(default=list, blank=True)
    source_config = models.JSONField(default=dict, blank=True)
    destination_config = models.JSONField(default=dict, blank=True)
    execution_backend = models.CharField(max_length=16, choices=ExecutionBackend.choices,
                                         default=ExecutionBackend.NATIVE)
    execution_config = models.JSONField(default=dict, blank=True)
    execution_mode = models.CharField(max_length=20, choices=ExecutionMode.choices,
                                      default=ExecutionMode.SEQUENTIAL)
    trigger_mode = models.CharField(max_length=16, choices=TriggerMode.choices,
                                    default=TriggerMode.MANUAL)
    schedule = models.JSONField(default=dict, blank=True,
                                help_text='{"cron": "0 * * * *", "timezone": "UTC"}')
    freshness_sla_seconds = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT,
                              db_index=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    task_slug = models.CharField(max_length=255, blank=True, default="")
    created_by = models.CharField(max_length=64, blank=True, default="")
    updated_by = models.CharField(max_length=64, blank=True, default="")
    # The scheduler's bookkeeping: the next cron slot to trigger.
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The last fencing token given to an attempt of this sync (see SyncRun.fence_token).
    fence_epoch = models.BigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "slug"],
                                               name="syncs_sync_unique_slug")]
        indexes = [models.Index(fields=["project", "-created_at"],
                                name="syncs_sync_project_created"),
                   # The list's default sort (name, then id) as a keyset (cursor pages).
                   models.Index(fields=["project", "name", "id"],
                                name="syncs_sync_project_keyset")]

    class JSONAPIMeta:
        resource_name = "syncs"

    def __str__(self) -> str:
        return self.slug


class TableBinding(TimestampedModel):
    class LoadMode(models.TextChoices):
        APPEND_EVENT = "append_event"
        UPSERT = "upsert"
        REPLACE = "replace"

    class NamingVersion(models.TextChoices):
        LEGACY = "legacy"
        V2 = "v2"

    sync = models.ForeignKey(Sync, on_delete=models.CASCADE, related_name="table_bindings")
    entity_key = models.CharField(max_length=255)
    logical_table_name = models.CharField(max_length=255)
    physical_table_name = models.CharField(max_length=63)
    table_name = models.CharField(max_length=255)
    table_naming_version = models.CharField(max_length=16, choices=NamingVersion.choices,
                                            default=NamingVersion.V2)
    load_mode = models.CharField(max_length=16, choices=LoadMode.choices,
                                 default=LoadMode.APPEND_EVENT)
    cursor_field = models.CharField(max_length=255, blank=True, default="")
    primary_key_columns = models.JSONField(default=list, blank=True)
    source_instance_key = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["entity_key"]
        constraints = [models.UniqueConstraint(
            fields=["sync", "entity_key", "source_instance_key"],
            name="syncs_binding_unique_entity")]

    class JSONAPIMeta:
        resource_name = "table-bindings"

    def __str__(self) -> str:
        return f"{self.entity_key} → {self.physical_table_name}"


class SyncRun(TimestampedModel):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class RunMode(models.TextChoices):
        INCREMENTAL = "incremental"
        FULL_REFRESH = "full_refresh"

    class TriggeredBy(models.TextChoices):
        MANUAL = "manual"
        SCHEDULE = "schedule"
        ON_CREATE = "on_create"
        RETRY = "retry"
        AUTO_RESUME = "auto_resume"

    class ResultClass(models.TextChoices):
        SUCCESS = "success"
        PARTIAL = "partial"
        FAILED = "failed"
        CANCELLED = "cancelled"

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE,
                                related_name="sync_runs")
    sync = models.ForeignKey(Sync, on_delete=models.CASCADE, related_name="runs")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+")
    run_mode = models.CharField(max_length=16, choices=RunMode.choices,
                                default=RunMode.INCREMENTAL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING,
                              db_index=True)
    execution_backend = models.CharField(max_length=16, default="native")
    execution_mode = models.CharField(max_length=20, default="sequential")
    triggered_by = models.CharField(max_length=16, choices=TriggeredBy.choices,
                                    default=TriggeredBy.MANUAL)
    trigger_ref = models.CharField(max_length=255, blank=True, default="")
    attempt_number = models.PositiveIntegerField(default=1)
    attempt_root_run = models.ForeignKey("self", null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="+")
    previous_attempt_run = models.ForeignKey("self", null=True, blank=True,
                                             on_delete=models.SET_NULL, related_name="+")
    next_attempt_run = models.ForeignKey("self", null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="+")
    max_auto_resume_attempts = models.PositiveIntegerField(default=2)
    executor_id = models.CharField(max_length=200, blank=True, default="")
    backend_run_ref = models.CharField(max_length=255, blank=True, default="")
    backend_run_url = models.CharField(max_length=500, blank=True, default="")
    backend_status = models.JSONField(default=dict, blank=True)
    backend_heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = models.CharField(max_length=64, blank=True, default="")
    cancel_reason = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    result_class = models.CharField(max_length=16, choices=ResultClass.choices, blank=True,
                                    default="")
    result_reason_code = models.CharField(max_length=64, blank=True, default="")
    summary = models.JSONField(default=dict, blank=True)
    # This attempt's fencing token, given when it starts: larger than every earlier attempt's
    # of the same sync. Its batches commit only while their checkpoint rows carry it
    # (syncs.loading.fence).
    fence_token = models.BigIntegerField(default=0, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One active run per sync.
            models.UniqueConstraint(fields=["sync"],
                                    condition=Q(status__in=["pending", "running"]),
                                    name="syncs_run_one_active_per_sync"),
        ]
        # The lists' default sort (-created_at, then -id) as keysets (cursor pages), of a
        # sync's runs and of the project's.
        indexes = [models.Index(fields=["sync", "-created_at", "-id"],
                                name="syncs_run_sync_keyset"),
                   models.Index(fields=["project", "-created_at", "-id"],
                                name="syncs_run_project_keyset")]

    class JSONAPIMeta:
        resource_name = "sync-runs"

    def __str__(self) -> str:
        return f"{self.sync_id} #{self.attempt_number} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING)


class SyncState(models.Model):
    """The cursor reached per sync and entity, committed in the same transaction as the rows
    it covers (see syncs.loading.fence). It lives in the warehouse database (syncservice.routers),
    hence a plain ``sync_id`` rather than a cross-database foreign key."""

    sync_id = models.UUIDField(db_index=True)
    entity_key = models.CharField(max_length=255)
    source_instance_key = models.CharField(max_length=255, blank=True, default="")
    cursor = models.JSONField(null=True, blank=True)
    # The fencing token of the attempt that owns this row, and that attempt (a run id).
    epoch = models.BigIntegerField(default=0)
    run_id = models.UUIDField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["sync_id", "entity_key", "source_instance_key"],
            name="syncs_state_unique_entity")]

    def __str__(self) -> str:
        return f"{self.sync_id}:{self.entity_key} @ {self.cursor}"
