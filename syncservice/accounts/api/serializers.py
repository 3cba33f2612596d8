from syncservice.accounts.models import Project
from syncservice.jsonapi.serializers import ResourceSerializer


class ProjectSerializer(ResourceSerializer):
    class Meta:
        model = Project
        fields = ["url", "name", "description", "created_at", "updated_at"]
