"""The syncs app's scrape-time gauges (registered with the observability app's database
collector in ``SyncsConfig.ready``)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from syncservice.observability.metrics import register_database_gauges


def _stale_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "syncs_stale",
        "Syncs whose data is older than their freshness SLA (see the `stale` attribute), per "
        "project; every project with a sync that has an SLA and is expected to run (active, "
        "paused, error) has a sample, 0 when all are fresh", labels=["project"])


def describe() -> list[GaugeMetricFamily]:
    return [_stale_family()]


def collect() -> list[GaugeMetricFamily]:
    from syncs.freshness import stale_counts

    family = _stale_family()
    for project, count in stale_counts():
        family.add_metric([project], count)
    return [family]


def register() -> None:
    register_database_gauges(describe, collect)
