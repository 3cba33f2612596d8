import django_filters

from exports.models import Export
from syncservice.jsonapi.filters import JsonApiFilterSet


class ExportFilterSet(JsonApiFilterSet):
    """The exports reference's filters, plus status."""

    job_id = django_filters.UUIDFilter(field_name="job_id")
    project_id = django_filters.UUIDFilter(field_name="project_id")
    file_id = django_filters.UUIDFilter(field_name="files__id", distinct=True)

    class Meta:
        model = Export
        fields = {
            "id": ["exact"],
            "created_by_id": ["exact"],
            "filename": ["exact"],
            "mime_type": ["exact"],
            "size": ["exact"],
            "created_at": ["exact", "gte", "lte"],
            "status": ["exact", "in"],
        }
