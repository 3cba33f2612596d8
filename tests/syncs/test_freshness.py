"""Freshness: a sync whose last success (or, never successful, its creation) is older than its
``freshness_sla_seconds`` reads as stale: the ``stale`` attribute and ``filter[stale]`` of the
API (computed in SQL), the ``syncs_stale`` gauge, the admin's badge and list filter."""

from datetime import timedelta

import orjson
import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from syncs import freshness
from syncs.models import Sync, SyncRun
from tests.conftest import body, error_of
from tests.test_observability import scrape

# (name, SLA seconds, status, last success seconds ago, created seconds ago) -> stale
CASES = [
    ("fresh-success", 3600, "active", 60, 86400, False),
    ("old-success", 3600, "active", 7200, 86400, True),
    ("never-new", 3600, "active", None, 60, False),
    ("never-old", 3600, "active", None, 7200, True),
    ("no-sla", None, "active", 10**6, 10**7, False),
    ("paused-old", 60, "paused", 600, 86400, True),
    ("error-old", 60, "error", None, 600, True),
    ("draft-old", 60, "draft", None, 86400, False),
    ("archived-old", 60, "archived", 600, 86400, False),
    ("zero-sla", 0, "active", 5, 86400, True),
]


@pytest.fixture
def syncs(make_sync):
    """One sync per case, its times set as the case says; returns {name: expected}."""
    now = timezone.now()
    expected = {}
    for name, sla, status, success_ago, created_ago, stale in CASES:
        data = make_sync(name=name, slug=name, freshness_sla_seconds=sla, status="active")
        Sync.objects.filter(pk=data["id"]).update(
            status=status, created_at=now - timedelta(seconds=created_ago),
            last_success_at=None if success_ago is None
            else now - timedelta(seconds=success_ago))
        expected[name] = stale
    return expected


def listed(api, query: str = "") -> dict[str, bool]:
    response = api.get(f"/api/v1/syncs?page[size]=100{query}")
    assert response.status_code == 200, response.content
    return {s["attributes"]["slug"]: s["attributes"]["stale"] for s in body(response)["data"]}


def test_stale_attribute_follows_the_rule(api, syncs):
    assert listed(api) == syncs
    for sync in Sync.objects.all():
        document = body(api.get(f"/api/v1/syncs/{sync.pk}"))
        assert document["data"]["attributes"]["stale"] is syncs[sync.slug], sync.slug


def test_sql_and_python_rules_agree(syncs):
    now = timezone.now()
    annotated = {s.slug: s.stale for s in freshness.with_stale(Sync.objects.all(), now)}
    assert annotated == syncs
    assert {s.slug: freshness.is_stale(s, now) for s in Sync.objects.all()} == syncs


def test_filter_stale(api, syncs):
    assert set(listed(api, "&filter[stale]=true")) == {n for n, s in syncs.items() if s}
    assert set(listed(api, "&filter[stale]=false")) == {n for n, s in syncs.items() if not s}
    # With the other filters and the reference's compatibility parameters.
    assert set(listed(api, "&filter[stale]=true&filter[status]=active")) == {
        "old-success", "never-old", "zero-sla"}
    assert set(listed(api, "&filter[stale]=true&status=paused,error")) == {
        "paused-old", "error-old"}


@pytest.mark.parametrize("value", ["maybe", "True", "1", "yes"])
def test_filter_stale_takes_only_true_or_false(api, syncs, value):
    error = error_of(api.get(f"/api/v1/syncs?filter[stale]={value}"), 400)
    assert error["source"] == {"parameter": "filter[stale]"}


def test_stale_is_read_only(api, syncs):
    sync = Sync.objects.get(slug="old-success")
    document = {"data": {"type": "syncs", "id": str(sync.pk), "attributes": {"stale": False}}}
    response = api.patch(f"/api/v1/syncs/{sync.pk}", data=orjson.dumps(document),
                         content_type="application/vnd.api+json")
    error = error_of(response, 422)
    assert error["source"] == {"pointer": "/data/attributes/stale"}


def test_a_success_makes_a_stale_sync_fresh(api, syncs):
    sync = Sync.objects.get(slug="never-old")
    assert body(api.get(f"/api/v1/syncs/{sync.pk}"))["data"]["attributes"]["stale"] is True
    Sync.objects.filter(pk=sync.pk).update(last_success_at=timezone.now())
    assert body(api.get(f"/api/v1/syncs/{sync.pk}"))["data"]["attributes"]["stale"] is False
    # Raising the SLA does too.
    other = Sync.objects.get(slug="old-success")
    Sync.objects.filter(pk=other.pk).update(freshness_sla_seconds=86400)
    assert body(api.get(f"/api/v1/syncs/{other.pk}"))["data"]["attributes"]["stale"] is False


def test_included_syncs_carry_stale_too(api, syncs):
    sync = Sync.objects.get(slug="old-success")
    run = SyncRun.objects.create(sync=sync, project=sync.project, status="succeeded")
    document = body(api.get(f"/api/v1/sync-runs/{run.pk}?include=sync"))
    (included,) = document["included"]
    assert included["attributes"]["stale"] is True


def _list_queries(api, query: str) -> int:
    with CaptureQueriesContext(db) as queries:
        assert api.get(f"/api/v1/syncs?page[size]=100{query}").status_code == 200
    return len(queries)


@pytest.mark.parametrize("query", ["", "&filter[stale]=true", "&filter[stale]=false"])
def test_the_list_costs_the_same_queries_whatever_the_number_of_syncs(api, make_sync, query):
    # Each page has stale rows and fresh rows (an SLA of 0 is stale at once, none is fresh).
    for index in range(2):
        make_sync(name=f"a{index}", slug=f"a{index}", freshness_sla_seconds=0 if index else None)
    few = _list_queries(api, query)
    for index in range(12):
        make_sync(name=f"b{index}", slug=f"b{index}",
                  freshness_sla_seconds=0 if index % 2 else None)
    assert _list_queries(api, query) == few


def test_stale_is_computed_by_the_database(api, syncs):
    with CaptureQueriesContext(db) as queries:
        api.get("/api/v1/syncs?filter[stale]=true")
    (select,) = [q["sql"] for q in queries if 'FROM "syncs_sync"' in q["sql"]]
    assert "freshness_sla_seconds" in select.split("WHERE", 1)[1]


def test_openapi_publishes_stale_and_its_filter(api):
    document = orjson.loads(api.get("/api/v1/schema", HTTP_ACCEPT="application/json").content)
    attributes = document["components"]["schemas"]["SyncResource"]["properties"][
        "attributes"]["properties"]
    assert attributes["stale"]["type"] == "boolean"
    assert attributes["stale"]["readOnly"] is True
    (parameter,) = [p for p in document["paths"]["/api/v1/syncs"]["get"]["parameters"]
                    if p["name"] == "filter[stale]"]
    assert parameter["schema"] == {"type": "boolean"}


# --- metrics --------------------------------------------------------------------------------

def test_syncs_stale_gauge_per_project(syncs, other_project, connection):
    from syncs import services

    # Another project: an SLA, all fresh → a 0 sample; a project without SLAs has none.
    other_connection = services.create_connection(other_project, provider="http_api",
                                                  name="other", config=connection[
                                                      "attributes"]["config"])
    services.create_sync(other_project, {"connection": other_connection, "name": "fresh",
                                         "entities": ["orders"], "status": "active",
                                         "freshness_sla_seconds": 3600}, actor="test")
    samples = scrape()
    stale = {labels: value for (name, labels), value in samples.items()
             if name == "syncs_stale"}
    assert stale == {(("project", "acme"),): sum(syncs.values()),
                     (("project", "globex"),): 0}
    assert samples[("syncservice_metrics_database_up", ())] == 1


# --- admin ----------------------------------------------------------------------------------

def test_admin_shows_freshness_and_filters_on_it(admin_client, syncs):
    response = admin_client.get("/admin/syncs/sync/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count(">stale</span>") == sum(syncs.values())
    assert ">fresh</span>" in html and ">not running</span>" in html
    for value, expected in (("true", True), ("false", False)):
        response = admin_client.get(f"/admin/syncs/sync/?stale={value}")
        assert response.status_code == 200
        shown = {s.slug for s in response.context["cl"].result_list}
        assert shown == {n for n, s in syncs.items() if s is expected}
    # Sorted by it, and shown on the change page.
    assert admin_client.get("/admin/syncs/sync/?o=6").status_code == 200
    sync = Sync.objects.get(slug="old-success")
    page = admin_client.get(f"/admin/syncs/sync/{sync.pk}/change/").content.decode()
    assert ">stale</span>" in page
