import django_filters

from syncservice.events.models import Event
from syncservice.jsonapi.filters import JsonApiFilterSet


class EventFilterSet(JsonApiFilterSet):
    """``filter[subject]`` is the subject's id (with ``filter[subject_type]`` to say which
    kind of resource, though ids never collide)."""

    subject = django_filters.UUIDFilter(field_name="subject_id")

    class Meta:
        model = Event
        fields = {
            "id": ["exact", "in"],
            "kind": ["exact", "in"],
            "subject_type": ["exact", "in"],
            "subject_id": ["exact", "in"],
            "created_at": ["exact", "gte", "lte"],
        }
