"""Freshness: when a sync's data is older than its ``freshness_sla_seconds``.

A sync is **stale** when all of these hold:

- it has an SLA (``freshness_sla_seconds`` is set; 0 is an SLA too),
- it is expected to run: ``active``, ``paused`` or ``error`` (a ``draft`` has not started,
  an ``archived`` sync is history),
- its data is older than the SLA: ``now - last_success_at > SLA`` or, when it never
  succeeded, ``now - created_at > SLA`` (a new sync has one SLA to succeed once).

The same rule twice: in SQL (:func:`with_stale`, an annotation the API filters and the admin
lists on, one expression per row and no extra query) and in Python (:func:`is_stale`, for a
sync loaded without the annotation, e.g. included from a run). ``stale_counts`` feeds the
``syncs_stale`` gauge.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import BooleanField, Case, Count, DurationField, Func, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from syncs.models import Sync

# The statuses whose syncs are expected to keep their data fresh.
EXPECTED_TO_RUN = (Sync.Status.ACTIVE, Sync.Status.PAUSED, Sync.Status.ERROR)


class Seconds(Func):
    """An integer column of seconds as a duration (PostgreSQL: an interval; SQLite: Django's
    durations are integer microseconds)."""

    output_field = DurationField()
    template = "make_interval(secs => %(expressions)s)"

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, template="(%(expressions)s * 1000000)",
                              **extra_context)


def stale_condition(now: dt.datetime) -> Q:
    """The rows that are stale at ``now`` (needs :func:`with_stale`'s ``fresh_until``)."""
    return Q(freshness_sla_seconds__isnull=False, status__in=EXPECTED_TO_RUN,
             fresh_until__lt=Value(now))


def with_stale(queryset, now: dt.datetime | None = None):
    """``queryset`` with a boolean ``stale`` annotation computed at ``now`` (default: now)."""
    now = now or timezone.now()
    fresh_until = Coalesce("last_success_at", "created_at") + Seconds("freshness_sla_seconds")
    return queryset.alias(fresh_until=fresh_until).annotate(
        stale=Case(When(stale_condition(now), then=Value(True)), default=Value(False),
                   output_field=BooleanField()))


def is_stale(sync: Sync, now: dt.datetime | None = None) -> bool:
    """The same rule for one loaded sync."""
    if sync.freshness_sla_seconds is None or sync.status not in EXPECTED_TO_RUN:
        return False
    since = sync.last_success_at or sync.created_at
    if since is None:  # not saved yet
        return False
    return since + dt.timedelta(seconds=sync.freshness_sla_seconds) < (now or timezone.now())


def stale_of(sync: Sync) -> bool:
    """The annotation when the sync was loaded with it, else the Python rule."""
    value = getattr(sync, "stale", None)
    return bool(value) if value is not None else is_stale(sync)


def stale_counts(now: dt.datetime | None = None) -> list[tuple[str, int]]:
    """(project name, stale syncs) for every project with a sync that has an SLA and is
    expected to run: one grouped query."""
    rows = (with_stale(Sync.objects.filter(freshness_sla_seconds__isnull=False,
                                           status__in=EXPECTED_TO_RUN), now)
            .order_by().values("project__name")
            .annotate(n=Count("pk", filter=Q(stale=True))).values_list("project__name", "n"))
    return sorted(rows)
