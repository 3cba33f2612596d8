from syncservice.accounts.models import Project
from syncservice.jsonapi.filters import JsonApiFilterSet


class ProjectFilterSet(JsonApiFilterSet):
    class Meta:
        model = Project
        fields = {
            "id": ["exact", "in"],
            "name": ["exact", "in", "icontains"],
            "created_at": ["exact", "gte", "lte"],
            "updated_at": ["exact", "gte", "lte"],
        }
