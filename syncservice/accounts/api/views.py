from syncservice.accounts.api.serializers import ProjectSerializer
from syncservice.accounts.filters import ProjectFilterSet
from syncservice.accounts.models import Project
from syncservice.jsonapi.views import ReadOnlyJsonApiViewSet


class ProjectViewSet(ReadOnlyJsonApiViewSet):
    """The caller's projects (read only; projects are created by operators in the admin)."""

    queryset = Project.objects.all()
    serializer_class = ProjectSerializer
    filterset_class = ProjectFilterSet
    project_field = "id"
    ordering_fields = ["id", "name", "created_at", "updated_at"]
    ordering = ["name"]
