"""The service's own resources, exportable with the names of their API (built from their
viewsets when first looked up: registering loads neither the viewsets nor the API)."""

from __future__ import annotations

from django.utils.module_loading import import_string

from exports.registry import register_lazily


def _from_viewset(name: str, viewset_path: str, resource_class_path: str):
    def build():
        resource_class = import_string(resource_class_path)
        return resource_class.from_viewset(name, import_string(viewset_path))

    return build


def register_service_resources() -> None:
    register_lazily("jobs", _from_viewset("jobs", "jobs.api.views.JobViewSet",
                                          "exports.model_copy.CopyModelResource"))
    register_lazily("exports", _from_viewset("exports", "exports.api.views.ExportViewSet",
                                             "exports.service_resources.ExportsResource"))
    register_lazily("projects", _from_viewset(
        "projects", "syncservice.accounts.api.views.ProjectViewSet",
        "exports.model_copy.CopyModelResource"))
