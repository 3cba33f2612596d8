from jobs.models import Job
from syncservice.jsonapi.filters import JsonApiFilterSet


class JobFilterSet(JsonApiFilterSet):
    """Exactly the filters of the jobs reference (sync-api-exports-jobs.txt)."""

    class Meta:
        model = Job
        fields = {
            "id": ["exact", "in"],
            "job_class": ["exact", "in"],
            "priority": ["exact", "gte", "lte"],
            "status": ["exact", "in"],
            "progress": ["exact"],
            "retry_count": ["exact", "gte", "lte"],
            "error": ["exact"],
            "unicity": ["exact"],
            "scheduled_at": ["exact", "gte", "lte"],
            "created_at": ["exact", "gte", "lte"],
            "updated_at": ["exact", "gte", "lte"],
        }
