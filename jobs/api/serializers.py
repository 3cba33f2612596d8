from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers as drf_serializers
from rest_framework_json_api import serializers

from jobs.models import Job
from jobs.services import SIGNALS
from syncservice.accounts.api.serializers import ProjectSerializer
from syncservice.events.api.serializers import EventSerializer, WithEvents, events_relationship
from syncservice.jsonapi.relations import ToOneField
from syncservice.jsonapi.serializers import ResourceSerializer

# The members of error_details the API serves: what failed, never where in the server's code.
PUBLIC_ERROR_DETAILS = ("reason", "type", "message", "worker_id", "heartbeat_at")

ERROR_DETAILS_SCHEMA = {
    "type": "object",
    "properties": {
        "reason": {"type": "string",
                   "description": "The short reason, as in `error` (\"heartbeat_timeout\", "
                                  "\"ValueError: …\")."},
        "type": {"type": "string",
                 "description": "The exception's class, with its module "
                                "(\"builtins.ValueError\")."},
        "message": {"type": "string", "description": "The exception's message."},
        "worker_id": {"type": "string",
                      "description": "heartbeat_timeout: the worker that stopped "
                                     "heartbeating."},
        "heartbeat_at": {"type": "string", "format": "date-time",
                         "description": "heartbeat_timeout: the job's last heartbeat."},
    },
    "additionalProperties": False,
}


@extend_schema_field(ERROR_DETAILS_SCHEMA)
class ErrorDetailsField(drf_serializers.JSONField):
    """``error_details`` as the API serves it: only the PUBLIC_ERROR_DETAILS members. The
    traceback (server file paths) is never stored here any more (``Job.error_traceback``,
    shown in the admin); rows written before that, or by an older worker during a deploy, are
    filtered all the same."""

    def to_representation(self, value):
        if isinstance(value, dict):
            value = {key: item for key, item in value.items() if key in PUBLIC_ERROR_DETAILS}
        return super().to_representation(value)


class JobSerializer(WithEvents, ResourceSerializer):
    project = ToOneField(related_view="project-detail")
    error_details = ErrorDetailsField(
        read_only=True, allow_null=True,
        help_text="What made the last attempt fail (null if none did): the reason, the "
                  "exception's type and message, or for heartbeat_timeout the worker and its "
                  "last heartbeat. Never a traceback.")
    events = events_relationship("job-events")
    included_serializers = {"project": ProjectSerializer, "events": EventSerializer}

    class Meta:
        model = Job
        fields = ["url", "job_class", "queue", "payload", "priority", "status", "progress",
                  "retry_count", "max_retries", "error", "error_details", "unicity",
                  "scheduled_at", "started_at", "finished_at", "heartbeat_at", "worker_id",
                  "cancel_requested_at", "result", "checkpoint", "created_by_id", "created_at",
                  "updated_at", "project", "events"]
        extra_kwargs = {"started_at": {"help_text": (
            "When the current (or last) attempt started. Null while the job is pending, and "
            "while a worker holds it claimed but not started yet (status running, worker_id "
            "set): if that worker stops, the job goes back to pending without a retry "
            "charged.")}}


class JobSignalSerializer(serializers.Serializer):
    """The body of ``POST /jobs/{id}/signal``: ``{"data": {"type": "job-signals",
    "attributes": {"signal": "cancel" | "retry" | "run_now"}}}``."""

    signal = drf_serializers.ChoiceField(choices=SIGNALS)

    class Meta:
        resource_name = "job-signals"
