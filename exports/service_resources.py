"""How the service's own resources differ from a plain ``ModelResource`` when exported."""

from __future__ import annotations

from exports.model_copy import CopyModelResource


class ExportsResource(CopyModelResource):
    """Exports of exports read their status as the API does: expired past expires_at."""

    def queryset(self, project, filters):
        from exports.services import expire_due

        expire_due()
        return super().queryset(project, filters)
