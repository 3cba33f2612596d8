"""Each synced table is an exportable resource type (by its logical table name, within its
project), through the exports registry."""

from __future__ import annotations

from django.conf import settings

from syncs.models import Sync, TableBinding


def _bindings(project):
    return TableBinding.objects.filter(sync__project=project).exclude(
        sync__status=Sync.Status.ARCHIVED)


def resolve(name: str, project):
    binding = _bindings(project).filter(logical_table_name=name).first()
    if binding is None:
        return None
    from exports.tables import TableResource

    return TableResource(name=name, table=binding.physical_table_name,
                         using=settings.WAREHOUSE_DATABASE_ALIAS)


def names(project) -> list[str]:
    return list(_bindings(project).values_list("logical_table_name", flat=True).distinct())


def register() -> None:
    from exports.registry import register_resolver

    register_resolver(resolve, names)
