"""The service's own resources, exportable with the names of their API."""

from exports.resources import ModelResource, register


def register_service_resources() -> None:
    from exports.api.views import ExportViewSet
    from jobs.api.views import JobViewSet
    from syncservice.accounts.api.views import ProjectViewSet

    for name, viewset in [("jobs", JobViewSet), ("exports", ExportViewSet),
                          ("projects", ProjectViewSet)]:
        register(ModelResource.from_viewset(name, viewset))
