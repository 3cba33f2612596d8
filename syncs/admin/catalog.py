"""The provider catalog, browsable from the connections admin: every provider, and one
provider's config and secrets schemas and defaults."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path

from jobs.admin import pretty_json
from syncs.admin.formatting import admin_url, url_name
from syncs.models import Connection
from syncs.providers import base as catalog


class ProviderCatalogMixin:
    """The catalog's pages, under the connections admin's URLs (``catalog/`` and
    ``catalog/<provider>/``), for whoever may view connections."""

    def get_urls(self):
        return [path("catalog/", self.admin_site.admin_view(self.catalog_view),
                     name=url_name(self.model, "catalog")),
                path("catalog/<str:provider>/", self.admin_site.admin_view(self.catalog_view),
                     name=url_name(self.model, "catalog_provider")),
                *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}),
                         "catalog_url": admin_url(self.admin_site, self.model, "catalog")}
        return super().changelist_view(request, extra_context)

    def catalog_view(self, request, provider: str | None = None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "opts": self.opts,
                   "catalog_url": admin_url(self.admin_site, self.model, "catalog"),
                   "changelist_url": admin_url(self.admin_site, Connection, "changelist")}
        if provider is None:
            counts = dict(Connection.objects.values_list("provider").annotate(n=Count("pk"))
                          .order_by())
            context.update(title="Provider catalog", providers=[{
                **spec.to_catalog(), "connections": counts.get(spec.key, 0),
                "url": admin_url(self.admin_site, self.model, "catalog_provider", spec.key)}
                for spec in catalog.all_providers()])
            return TemplateResponse(request, "admin/syncs/catalog/index.html", context)
        spec = catalog.get_provider(provider)
        if spec is None:
            raise Http404(f"No provider {provider!r}.")
        entry = spec.to_catalog()
        context.update(
            title=f"{spec.display_name} ({spec.key})", provider=entry,
            config_schema=pretty_json(entry["config_schema"]),
            secrets_schema=pretty_json(entry["secrets_schema"]),
            defaults=pretty_json(entry["defaults"]),
            connections_url=admin_url(self.admin_site, Connection, "changelist")
            + f"?provider__exact={spec.key}")
        return TemplateResponse(request, "admin/syncs/catalog/provider.html", context)
