from rest_framework import serializers as drf_serializers
from rest_framework.reverse import reverse
from rest_framework_json_api import serializers
from rest_framework_json_api.relations import ResourceRelatedField

from exports import schemas
from exports.models import Export, ExportFile, ExportStatus
from jobs.api.serializers import JobSerializer
from syncservice.accounts.api.serializers import ProjectSerializer
from syncservice.events.api.serializers import EventSerializer, WithEvents, events_relationship
from syncservice.jsonapi.read import Links, Row, row_field
from syncservice.jsonapi.relations import ToOneField
from syncservice.jsonapi.serializers import ResourceSerializer
from syncservice.jsonschema.fields import SchemaField, StrictBooleanField, StrictCharField


def download_url(request, export_id, index: int | None = None) -> str:
    url = reverse("export-download", kwargs={"pk": export_id}, request=request)
    return with_file(url, index)


def with_file(url: str, index: int | None) -> str:
    """The download URL of file ``index`` (None: the export's only or first file)."""
    return f"{url}?file={index}" if index is not None else url


class ExportFileSerializer(serializers.ModelSerializer):
    download_url = drf_serializers.SerializerMethodField()

    class Meta:
        model = ExportFile
        fields = ["index", "filename", "size", "records_count", "sha256", "mime_type",
                  "download_url", "created_at"]

    def get_download_url(self, export_file: ExportFile) -> str:
        return download_url(self.context.get("request"), export_file.export_id,
                            export_file.index)


@row_field(ExportFileSerializer, "download_url", columns=("export_id", "index"))
def file_download_url(links: Links, row: Row) -> str:
    """``get_download_url`` of a row (the same ``reverse``)."""
    return with_file(links.url("export-download", "pk", row["export_id"]), row["index"])


class ExportSerializer(WithEvents, ResourceSerializer):
    project = ToOneField(related_view="project-detail")
    job = ToOneField(related_view="job-detail")
    files = ResourceRelatedField(many=True, read_only=True)
    events = events_relationship("export-events")
    attachment_url = drf_serializers.SerializerMethodField()

    included_serializers = {"project": ProjectSerializer, "job": JobSerializer,
                            "files": ExportFileSerializer, "events": EventSerializer}

    class Meta:
        model = Export
        fields = ["url", "resource_type", "format", "status", "filters", "fields", "includes",
                  "dry_data", "compress", "records_count", "size", "filename", "mime_type",
                  "attachment_url", "started_at", "completed_at", "interrupted_at",
                  "expires_at", "errors_log", "reference", "reference_origin", "metadata",
                  "created_by_id", "created_at", "updated_at", "project", "job", "files", "events"]

    def get_attachment_url(self, export: Export) -> str | None:
        if export.status != ExportStatus.SUCCESS:
            return None
        return download_url(self.context.get("request"), export.pk)


@row_field(ExportSerializer, "attachment_url", columns=("id", "status"))
def attachment_url(links: Links, row: Row) -> str | None:
    """``get_attachment_url`` of a row (the same ``reverse``)."""
    if row["status"] != ExportStatus.SUCCESS:
        return None
    return links.url("export-download", "pk", row["id"])


class ExportCreateSerializer(serializers.Serializer):
    """The attributes of ``POST /exports/export`` (type ``exports``)."""

    resource_type = StrictCharField(max_length=255)
    format = StrictCharField(default="jsonl", max_length=32)
    filters = SchemaField(schemas.FILTERS, component="ExportFilters", required=False,
                          default=dict, allow_null=True)
    fields = SchemaField(schemas.FIELDS, component="ExportFields", required=False,
                         default=list, allow_null=True)
    includes = SchemaField(schemas.INCLUDES, component="ExportIncludes", required=False,
                           default=list, allow_null=True)
    dry_data = StrictBooleanField(required=False, default=False)
    compress = StrictBooleanField(required=False, default=False)
    reference = StrictCharField(required=False, allow_blank=True, default="", max_length=255)
    reference_origin = StrictCharField(required=False, allow_blank=True, default="",
                                       max_length=255)
    metadata = SchemaField(schemas.METADATA, component="ExportMetadata", required=False,
                           default=dict, allow_null=True)

    class Meta:
        resource_name = "exports"
