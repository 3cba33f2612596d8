"""The syncs app's scrape-time gauges (registered with the observability app's database
collector in ``SyncsConfig.ready``): active sync runs, stale syncs."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from syncservice.observability.metrics import register_database_gauges

ACTIVE_RUN_STATUSES = ("pending", "running")


def _active_family() -> GaugeMetricFamily:
    return GaugeMetricFamily("sync_runs_active", "Sync runs pending or running",
                             labels=["status"])


def _stale_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "syncs_stale",
        "Syncs whose data is older than their freshness SLA (see the `stale` attribute), per "
        "project; every project with a sync that has an SLA and is expected to run (active, "
        "paused, error) has a sample, 0 when all are fresh", labels=["project"])


def describe() -> list[GaugeMetricFamily]:
    return [_active_family(), _stale_family()]


def collect() -> list[GaugeMetricFamily]:
    from django.db.models import Count

    from syncs.freshness import stale_counts
    from syncs.models import SyncRun

    runs = dict.fromkeys(ACTIVE_RUN_STATUSES, 0)
    runs.update(SyncRun.objects.filter(status__in=ACTIVE_RUN_STATUSES).order_by()
                .values_list("status").annotate(n=Count("id")))
    active = _active_family()
    for status, count in runs.items():
        active.add_metric([status], count)
    stale = _stale_family()
    for project, count in stale_counts():
        stale.add_metric([project], count)
    return [active, stale]


def register() -> None:
    register_database_gauges(describe, collect)
