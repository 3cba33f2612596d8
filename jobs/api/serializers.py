from rest_framework import serializers as drf_serializers
from rest_framework_json_api import serializers

from jobs.models import Job
from jobs.services import SIGNALS
from syncservice.accounts.api.serializers import ProjectSerializer
from syncservice.jsonapi.relations import ToOneField
from syncservice.jsonapi.serializers import ResourceSerializer


class JobSerializer(ResourceSerializer):
    project = ToOneField(related_view="project-detail")
    included_serializers = {"project": ProjectSerializer}

    class Meta:
        model = Job
        fields = ["url", "job_class", "queue", "payload", "priority", "status", "progress",
                  "retry_count", "max_retries", "error", "error_details", "unicity",
                  "scheduled_at", "started_at", "finished_at", "heartbeat_at", "worker_id",
                  "cancel_requested_at", "result", "checkpoint", "created_by_id", "created_at",
                  "updated_at", "project"]


class JobSignalSerializer(serializers.Serializer):
    """The body of ``POST /jobs/{id}/signal``: ``{"data": {"type": "job-signals",
    "attributes": {"signal": "cancel" | "retry" | "run_now"}}}``."""

    signal = drf_serializers.ChoiceField(choices=SIGNALS)

    class Meta:
        resource_name = "job-signals"
