from rest_framework import serializers as drf_serializers
from rest_framework_json_api import serializers
from rest_framework_json_api.relations import (
    ResourceRelatedField,
    SerializerMethodResourceRelatedField,
)

from jobs.api.serializers import JobSerializer
from syncs.models import PROVIDERS, Connection, Sync, SyncRun, TableBinding
from syncs.services import secret_names
from syncservice.accounts.api.serializers import ProjectSerializer
from syncservice.jsonapi.relations import ToOneField
from syncservice.jsonapi.serializers import ResourceSerializer


class ConnectionSerializer(ResourceSerializer):
    project = ToOneField(related_view="project-detail")
    secret_names = drf_serializers.SerializerMethodField(
        help_text="Names of the stored secrets (their values are never returned)")
    included_serializers = {"project": ProjectSerializer}

    class Meta:
        model = Connection
        fields = ["url", "provider", "name", "config", "secret_names", "last_check_at",
                  "last_check_status", "last_check_error", "created_by", "created_at",
                  "updated_at", "project"]

    def get_secret_names(self, connection: Connection) -> list[str]:
        return secret_names(connection)


class ConnectionWriteSerializer(serializers.Serializer):
    provider = drf_serializers.ChoiceField(choices=PROVIDERS, required=False)
    name = drf_serializers.CharField(max_length=255, required=False)
    config = drf_serializers.DictField(required=False)
    secrets = drf_serializers.DictField(required=False, write_only=True)

    class Meta:
        resource_name = "connections"


class TableBindingSerializer(serializers.ModelSerializer):
    sync = ResourceRelatedField(read_only=True)

    class Meta:
        model = TableBinding
        fields = ["entity_key", "logical_table_name", "physical_table_name", "table_name",
                  "table_naming_version", "load_mode", "cursor_field", "primary_key_columns",
                  "source_instance_key", "created_at", "updated_at", "sync"]


class SyncRunSerializer(ResourceSerializer):
    sync = ToOneField(related_view="sync-detail")
    project = ToOneField(related_view="project-detail")
    job = ToOneField(related_view="job-detail")
    included_serializers = {"sync": "syncs.api.serializers.SyncSerializer",
                            "project": ProjectSerializer, "job": JobSerializer}

    class Meta:
        model = SyncRun
        fields = ["url", "run_mode", "status", "execution_backend", "execution_mode",
                  "triggered_by", "trigger_ref", "attempt_number", "attempt_root_run_id",
                  "previous_attempt_run_id", "next_attempt_run_id", "max_auto_resume_attempts",
                  "executor_id", "backend_run_ref", "backend_run_url", "backend_status",
                  "backend_heartbeat_at", "last_heartbeat_at", "cancel_requested_at",
                  "cancel_requested_by", "cancel_reason", "error", "result_class",
                  "result_reason_code", "summary", "started_at", "completed_at", "created_at",
                  "updated_at", "sync", "project", "job"]
        extra_kwargs = {"url": {"view_name": "sync-run-detail"}}


class SyncSerializer(ResourceSerializer):
    project = ToOneField(related_view="project-detail")
    connection = ToOneField(related_view="connection-detail")
    table_bindings = ResourceRelatedField(many=True, read_only=True)
    last_run = SerializerMethodResourceRelatedField(model=SyncRun, read_only=True,
                                                    method_name="get_last_run")
    provider_key = drf_serializers.CharField(source="connection.provider", read_only=True)
    included_serializers = {"project": ProjectSerializer, "connection": ConnectionSerializer,
                            "table_bindings": TableBindingSerializer,
                            "last_run": SyncRunSerializer}

    class Meta:
        model = Sync
        fields = ["url", "name", "slug", "provider_key", "entities", "source_config",
                  "destination_config", "execution_backend", "execution_config",
                  "execution_mode", "trigger_mode", "schedule", "freshness_sla_seconds",
                  "status", "last_success_at", "last_error", "task_slug", "next_run_at",
                  "created_by", "updated_by", "created_at", "updated_at", "project",
                  "connection", "table_bindings", "last_run"]

    def get_last_run(self, sync: Sync) -> SyncRun | None:
        latest = getattr(sync, "latest_runs", None)
        if latest is None:
            return sync.runs.order_by("-created_at").first()
        return latest[0] if latest else None


class SyncWriteSerializer(serializers.Serializer):
    """Attributes of POST/PATCH /syncs (type ``syncs``). The connection comes as
    ``relationships.connection`` or the reference's ``connection_id`` attribute; bindings as
    the reference's ``table_bindings`` attribute (a list of binding objects)."""

    connection_id = drf_serializers.UUIDField(required=False)
    name = drf_serializers.CharField(max_length=255, required=False)
    # Short enough that derived table names (<slug>_<entity>) fit their columns.
    slug = drf_serializers.CharField(max_length=100, required=False, allow_blank=True)
    entities = drf_serializers.ListField(child=drf_serializers.CharField(), required=False)
    table_bindings = drf_serializers.ListField(child=drf_serializers.DictField(),
                                               required=False)
    source_config = drf_serializers.DictField(required=False)
    destination_config = drf_serializers.DictField(required=False)
    execution_backend = drf_serializers.ChoiceField(choices=Sync.ExecutionBackend.choices,
                                                    required=False)
    execution_config = drf_serializers.DictField(required=False)
    execution_mode = drf_serializers.ChoiceField(choices=Sync.ExecutionMode.choices,
                                                 required=False)
    trigger_mode = drf_serializers.ChoiceField(choices=Sync.TriggerMode.choices,
                                               required=False)
    schedule = drf_serializers.DictField(required=False)
    freshness_sla_seconds = drf_serializers.IntegerField(min_value=0, required=False,
                                                         allow_null=True)
    status = drf_serializers.ChoiceField(choices=Sync.Status.choices, required=False)
    task_slug = drf_serializers.CharField(max_length=255, required=False, allow_blank=True)

    class Meta:
        resource_name = "syncs"


class TriggerSerializer(serializers.Serializer):
    run_mode = drf_serializers.ChoiceField(choices=SyncRun.RunMode.choices,
                                           default=SyncRun.RunMode.INCREMENTAL)

    class Meta:
        resource_name = "sync-triggers"


class CancelSerializer(serializers.Serializer):
    reason = drf_serializers.CharField(required=False, allow_blank=True, default="")

    class Meta:
        resource_name = "sync-run-cancels"


class RetrySerializer(serializers.Serializer):
    run_mode = drf_serializers.ChoiceField(choices=SyncRun.RunMode.choices, required=False)

    class Meta:
        resource_name = "sync-run-retries"
