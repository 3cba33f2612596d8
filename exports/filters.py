import re
import uuid
from urllib.parse import urlsplit

import django_filters
from django.db.models import Q

from exports.models import Export, ExportStatus
from syncservice.jsonapi.filters import HasKeyFilter, JsonApiFilterSet

# The path of an export's attachment_url (see exports.api.serializers.download_url): the
# host is not compared, so a URL seen through a proxy matches too.
_ATTACHMENT_PATH = re.compile(r"/exports/(?P<id>[0-9a-fA-F-]{32,36})/download/?$")


def _attachment_ids(urls: list[str]) -> list[str]:
    ids: list = []
    for url in urls:
        match = _ATTACHMENT_PATH.search(urlsplit(url.strip()).path)
        try:
            ids.append(uuid.UUID(match["id"]) if match else None)
        except ValueError:
            continue
    return ids


class AttachmentUrlInFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    pass


class ExportFilterSet(JsonApiFilterSet):
    """The filters of both exports references: the Sync API's (job_id, project_id, file_id,
    created_by_id, filename, mime_type, size) and Commerce Layer's 16 filterable fields,
    with ``__in`` on strings and ids and ``__gte``/``__lte`` on times and counts."""

    job_id = django_filters.UUIDFilter(field_name="job_id")
    project_id = django_filters.UUIDFilter(field_name="project_id")
    file_id = django_filters.UUIDFilter(field_name="files__id", distinct=True)
    attachment_url = django_filters.CharFilter(
        method="filter_attachment_url",
        help_text="The export whose download URL this is (only successful exports have one).")
    attachment_url__in = AttachmentUrlInFilter(
        method="filter_attachment_url",
        help_text="The exports whose download URLs these are.")
    metadata__has_key = HasKeyFilter("metadata")
    errors_log__has_key = HasKeyFilter("errors_log")
    # filter[metadata][<key>]=<value>, filter[errors_log][<key>]=<value> (key containment).
    json_key_filters = ("metadata", "errors_log")

    class Meta:
        model = Export
        fields = {
            "id": ["exact", "in"],
            "created_by_id": ["exact", "in"],
            "resource_type": ["exact", "in"],
            "format": ["exact", "in"],
            "status": ["exact", "in"],
            "filename": ["exact", "in"],
            "mime_type": ["exact", "in"],
            "size": ["exact", "gte", "lte"],
            "records_count": ["exact", "gte", "lte"],
            "started_at": ["exact", "gte", "lte"],
            "completed_at": ["exact", "gte", "lte"],
            "interrupted_at": ["exact", "gte", "lte"],
            "expires_at": ["exact", "gte", "lte"],
            "created_at": ["exact", "gte", "lte"],
            "updated_at": ["exact", "gte", "lte"],
            "reference": ["exact", "in"],
            "reference_origin": ["exact", "in"],
        }

    def filter_attachment_url(self, queryset, name, value):
        urls = value if isinstance(value, list) else [value]
        ids = [pk for pk in _attachment_ids(urls) if pk is not None]
        return queryset.filter(Q(pk__in=ids) & Q(status=ExportStatus.SUCCESS))
