"""Which ``select_related``/``prefetch_related`` a set of include paths needs, so a page is
served with the same number of queries whatever its size."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import FieldDoesNotExist
from django.db import models


def _hop(model: type[models.Model], name: str):
    field = model._meta.get_field(name)
    single = field.many_to_one or field.one_to_one
    return field.related_model, single


def plan_related(model: type[models.Model], paths: Iterable[str],
                 sources: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """Return (select_related, prefetch_related) ORM paths for dotted include ``paths``.

    ``sources`` maps an API relationship name to its model field where they differ.
    A path whose hops are all forward to-one joins; any to-many hop prefetches.
    """
    sources = sources or {}
    selects: list[str] = []
    prefetches: list[str] = []
    for path in paths:
        current = model
        orm_parts: list[str] = []
        all_single = True
        for segment in path.split("."):
            name = sources.get(segment, segment)
            try:
                current, single = _hop(current, name)
            except FieldDoesNotExist:
                break  # a derived relationship (e.g. a sync's last_run): its view prefetches it
            all_single = all_single and single
            orm_parts.append(name)
        if not orm_parts:
            continue
        orm_path = "__".join(orm_parts)
        (selects if all_single else prefetches).append(orm_path)
    return sorted(set(selects)), sorted(set(prefetches))
