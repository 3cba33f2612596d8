"""The service's own resources, exportable with the names of their API."""

from exports.resources import ModelResource, register


class ExportsResource(ModelResource):
    """Exports of exports read their status as the API does: expired past expires_at."""

    def queryset(self, project, filters):
        from exports.services import expire_due

        expire_due()
        return super().queryset(project, filters)


def register_service_resources() -> None:
    from exports.api.views import ExportViewSet
    from jobs.api.views import JobViewSet
    from syncservice.accounts.api.views import ProjectViewSet

    register(ModelResource.from_viewset("jobs", JobViewSet))
    register(ExportsResource.from_viewset("exports", ExportViewSet))
    register(ModelResource.from_viewset("projects", ProjectViewSet))
