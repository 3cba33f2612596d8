"""Connections, syncs and runs through the API: CRUD and validation, the 409 rules, the run
lifecycle (trigger, cancel, retry, auto-resume), execution modes, the scheduler, tenancy."""

import threading
from datetime import timedelta

import orjson
import pytest
from django.db import connection as db
from django.utils import timezone

from jobs import claiming, reaping
from jobs.execution import execute
from jobs.models import Job
from jobs.worker import Worker
from syncs import services
from syncs.models import Connection, Sync, SyncRun, SyncState
from tests.conftest import body, error_of


def send(api, method, url, type_, attributes=None, relationships=None):
    data = {"type": type_, "attributes": attributes or {}}
    if relationships:
        data["relationships"] = relationships
    return getattr(api, method)(url, data=orjson.dumps({"data": data}),
                                content_type="application/vnd.api+json")


def trigger(api, sync, run_mode="incremental"):
    return send(api, "post", f"/api/v1/syncs/{sync['id']}/trigger", "sync-triggers",
                {"run_mode": run_mode})


def table_rows(name, columns="id"):
    with db.cursor() as cursor:
        cursor.execute(f'SELECT {columns} FROM "{name}" ORDER BY id')
        return cursor.fetchall()


def run_of(response):
    return SyncRun.objects.get(pk=body(response)["data"]["id"])


# --- connections ----------------------------------------------------------------------------

def test_connection_secrets_are_never_returned(api, connection):
    assert connection["attributes"]["secret_names"] == ["token"]
    assert "secrets" not in connection["attributes"]
    for url in ("/api/v1/connections", f"/api/v1/connections/{connection['id']}"):
        assert b"good-token" not in api.get(url).content
    stored = Connection.objects.get(pk=connection["id"])
    assert "good-token" not in stored.secrets_encrypted
    assert services.connection_secrets(stored) == {"token": "good-token"}


@pytest.mark.parametrize("attributes,pointer", [
    ({"provider": "nope", "name": "x"}, "/data/attributes/provider"),
    ({"provider": "http_api"}, "/data/attributes/name"),
    ({"provider": "http_api", "name": "x", "config": {}}, "/data/attributes/config"),
    ({"provider": "http_api", "name": "x", "config": {"base_url": 5}},
     "/data/attributes/config/base_url"),
    ({"provider": "http_api", "name": "x", "config": {"base_url": "http://h/"},
      "secrets": {"token": 5}}, "/data/attributes/secrets/token"),
])
def test_connection_validation_is_422(api, attributes, pointer):
    error = error_of(send(api, "post", "/api/v1/connections", "connections", attributes), 422)
    assert error["source"]["pointer"].startswith(pointer), error


def test_duplicate_connection_name_is_409(api, connection, shop_config):
    error_of(send(api, "post", "/api/v1/connections", "connections",
                  {"provider": "http_api", "name": "shop", "config": shop_config}), 409)


def test_connection_check_ok_and_failing(api, connection):
    response = api.post(f"/api/v1/connections/{connection['id']}/check")
    assert body(response)["data"]["attributes"]["last_check_status"] == "ok"
    send(api, "patch", f"/api/v1/connections/{connection['id']}", "connections",
         {"secrets": {"token": "wrong"}})
    api.patch(f"/api/v1/connections/{connection['id']}", data=orjson.dumps(
        {"data": {"type": "connections", "id": connection["id"],
                  "attributes": {"secrets": {"token": "wrong"}}}}),
        content_type="application/vnd.api+json")
    attributes = body(api.post(f"/api/v1/connections/{connection['id']}/check"))["data"][
        "attributes"]
    assert attributes["last_check_status"] == "failed"
    assert "401" in attributes["last_check_error"]


def test_connection_used_by_a_sync_cannot_be_deleted(api, connection, make_sync):
    make_sync()
    error_of(api.delete(f"/api/v1/connections/{connection['id']}"), 409)


# --- syncs: validation ----------------------------------------------------------------------

def create(api, connection, **attributes):
    return send(api, "post", "/api/v1/syncs", "syncs", {"name": "s", **attributes},
                {"connection": {"data": {"type": "connections", "id": connection["id"]}}})


@pytest.mark.parametrize("attributes,pointer", [
    ({"entities": ["nope"]}, "/data/attributes/entities/0"),
    ({"entities": ["orders"], "execution_backend": "prefect"},
     "/data/attributes/execution_backend"),
    ({"entities": ["orders"], "trigger_mode": "scheduled"}, "/data/attributes/schedule/cron"),
    ({"entities": ["orders"], "trigger_mode": "scheduled", "schedule": {"cron": "nope"}},
     "/data/attributes/schedule/cron"),
    ({"entities": ["orders"], "trigger_mode": "scheduled",
      "schedule": {"cron": "0 * * * *", "timezone": "Mars/Base"}},
     "/data/attributes/schedule/timezone"),
    ({"entities": ["orders"], "table_bindings": [{"entity_key": "customers"}]},
     "/data/attributes/table_bindings/0/entity_key"),
    ({"entities": ["orders"], "table_bindings": [
        {"entity_key": "orders", "load_mode": "upsert", "primary_key_columns": []}]},
     "/data/attributes/table_bindings/0/primary_key_columns"),
    ({"entities": ["orders"], "execution_mode": "sideways"},
     "/data/attributes/execution_mode"),
    ({"entities": ["orders"], "status": "sleeping"}, "/data/attributes/status"),
    ({"entities": ["orders"], "slug": "Not A Slug"}, "/data/attributes/slug"),
])
def test_sync_validation_is_422(api, connection, attributes, pointer):
    error = error_of(create(api, connection, **attributes), 422)
    assert error["source"]["pointer"] == pointer, error
    assert not Sync.objects.exists()


def test_sync_needs_a_visible_connection(api, other_api, connection):
    response = send(other_api, "post", "/api/v1/syncs", "syncs", {"name": "s"},
                    {"connection": {"data": {"type": "connections", "id": connection["id"]}}})
    assert error_of(response, 404)["source"]["pointer"] == "/data/relationships/connection"


def test_slug_is_unique_per_project(api, connection):
    assert create(api, connection, entities=["orders"], slug="one").status_code == 201
    error_of(create(api, connection, entities=["orders"], slug="one"), 409)


def test_created_sync_has_bindings_from_the_streams(api, make_sync):
    sync = make_sync(entities=["orders", "customers"])
    document = body(api.get(f"/api/v1/syncs/{sync['id']}?included=table_bindings,connection"))
    bindings = {i["attributes"]["entity_key"]: i["attributes"] for i in document["included"]
                if i["type"] == "table-bindings"}
    assert bindings["orders"]["load_mode"] == "upsert"
    assert bindings["orders"]["primary_key_columns"] == ["id"]
    assert bindings["orders"]["cursor_field"] == "updated_at"
    assert document["data"]["attributes"]["provider_key"] == "http_api"
    assert b"good-token" not in orjson.dumps(document)


def test_patch_sync(api, make_sync):
    sync = make_sync()
    response = api.patch(f"/api/v1/syncs/{sync['id']}", data=orjson.dumps({"data": {
        "type": "syncs", "id": sync["id"], "attributes": {"name": "Renamed",
                                                          "status": "paused"}}}),
        content_type="application/vnd.api+json")
    assert body(response)["data"]["attributes"]["name"] == "Renamed"
    assert Sync.objects.get(pk=sync["id"]).status == "paused"


# --- runs -----------------------------------------------------------------------------------

def test_trigger_run_and_summary(api, make_sync, shop, run_job):
    sync = make_sync(entities=["orders", "customers"])
    response = trigger(api, sync)
    assert response.status_code == 202
    assert body(response)["data"]["attributes"]["status"] == "pending"
    run = run_of(response)
    run_job(run.job_id)
    run.refresh_from_db()
    assert (run.status, run.result_class) == ("succeeded", "success"), run.error
    assert run.summary["entities"]["orders"]["rows_written"] == 7
    assert run.summary["entities"]["customers"]["rows_written"] == 3
    assert run.summary["entities"]["orders"]["cursor"] == "2026-01-07T00:00:00Z"
    assert run.summary["rows_read"] == 10
    orders = Sync.objects.get(pk=sync["id"]).table_bindings.get(entity_key="orders")
    assert len(table_rows(orders.physical_table_name)) == 7
    synced = Sync.objects.get(pk=sync["id"])
    assert synced.last_success_at is not None and synced.status == "active"
    # Incremental: the next run asks only for what changed since the checkpoint.
    run2 = run_of(trigger(api, sync))
    run_job(run2.job_id)
    assert shop.order_requests()[-1]["updated_since"] == "2026-01-07T00:00:00Z"
    run2.refresh_from_db()
    assert run2.summary["entities"]["orders"]["rows_written"] == 0
    assert len(table_rows(orders.physical_table_name)) == 7  # upsert: no duplicates


def test_full_refresh_replaces_the_table(api, make_sync, shop, run_job):
    sync = make_sync()
    run_job(run_of(trigger(api, sync)).job_id)
    binding = Sync.objects.get(pk=sync["id"]).table_bindings.get()
    with db.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{binding.physical_table_name}" WHERE id > 5')
    run = run_of(trigger(api, sync, "full_refresh"))
    run_job(run.job_id)
    assert "updated_since" not in shop.order_requests()[-1]
    assert len(table_rows(binding.physical_table_name)) == 7


def test_one_active_run_per_sync(api, make_sync):
    sync = make_sync()
    assert trigger(api, sync).status_code == 202
    error_of(trigger(api, sync), 409)


def test_only_active_syncs_are_triggered(api, make_sync):
    sync = make_sync(status="draft")
    error_of(trigger(api, sync), 409)


def test_cancel_pending_run_at_once(api, make_sync):
    run = run_of(trigger(api, make_sync()))
    response = send(api, "post", f"/api/v1/syncs/runs/{run.pk}/cancel", "sync-run-cancels",
                    {"reason": "not now"})
    attributes = body(response)["data"]["attributes"]
    assert (attributes["status"], attributes["result_class"]) == ("cancelled", "cancelled")
    assert attributes["cancel_reason"] == "not now"
    assert Job.objects.get(pk=run.job_id).status == "cancelled"
    error_of(send(api, "post", f"/api/v1/syncs/runs/{run.pk}/cancel", "sync-run-cancels"), 409)


@pytest.mark.django_db(transaction=True)
def test_cancel_running_run_stops_at_the_next_batch(api, make_sync, shop):
    shop.gate = threading.Event()
    run = run_of(trigger(api, make_sync()))
    job = claiming.claim_by_id(run.job_id, "w")
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(status=execute(job, "w")))
    thread.start()
    assert shop.gate_reached.wait(10)
    response = send(api, "post", f"/api/v1/syncs/runs/{run.pk}/cancel", "sync-run-cancels",
                    {"reason": "stop"})
    assert body(response)["data"]["attributes"]["cancel_requested_at"] is not None
    shop.gate.set()
    thread.join(10)
    run.refresh_from_db()
    assert outcome["status"] == "cancelled"
    assert (run.status, run.result_class) == ("cancelled", "cancelled")
    assert run.summary["entities"]["orders"]["rows_written"] == 3  # page 1 only


def test_failed_run_and_retry_chain(api, make_sync, shop, run_job):
    sync = make_sync()
    shop.fail_status = 500
    first = run_of(trigger(api, sync))
    run_job(first.job_id)
    first.refresh_from_db()
    assert (first.status, first.result_class) == ("failed", "failed")
    assert "500" in first.error
    assert Sync.objects.get(pk=sync["id"]).status == "error"
    shop.fail_status = None
    response = send(api, "post", f"/api/v1/syncs/runs/{first.pk}/retry", "sync-run-retries",
                    {"run_mode": "incremental"})
    assert response.status_code == 202
    second = run_of(response)
    first.refresh_from_db()
    assert (second.attempt_number, second.previous_attempt_run_id) == (2, first.pk)
    assert first.next_attempt_run_id == second.pk
    assert second.attempt_root_run_id == first.pk
    assert second.triggered_by == "retry"
    run_job(second.job_id)
    second.refresh_from_db()
    assert second.status == "succeeded"
    synced = Sync.objects.get(pk=sync["id"])
    assert synced.status == "active" and synced.last_error == ""
    third_attempt = send(api, "post", f"/api/v1/syncs/runs/{first.pk}/retry",
                         "sync-run-retries")
    error_of(third_attempt, 409)  # retry the latest attempt, not an old one
    error_of(send(api, "post", f"/api/v1/syncs/runs/{second.pk}/retry", "sync-run-retries"),
             409)  # succeeded runs are not retried


@pytest.mark.django_db(transaction=True)
def test_heartbeat_timeout_fails_the_run_and_resumes_from_the_checkpoint(api, make_sync,
                                                                       shop):
    shop.gate = threading.Event()
    sync = make_sync()
    run = run_of(trigger(api, sync))
    job = claiming.claim_by_id(run.job_id, "dying-worker")
    thread = threading.Thread(target=lambda: execute(job, "dying-worker"))
    thread.start()
    assert shop.gate_reached.wait(10)
    shop.wait_page_one_committed(sync["id"])
    # The worker stops heartbeating: the reaper fails the job; the run follows.
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    reaping.reap_stalled(timeout_seconds=60)
    shop.gate.set()
    thread.join(10)
    run.refresh_from_db()
    assert (run.status, run.result_reason_code) == ("failed", "heartbeat_timeout")
    resumed = SyncRun.objects.get(pk=run.next_attempt_run_id)
    assert (resumed.triggered_by, resumed.attempt_number) == ("auto_resume", 2)
    shop.gate = None
    before = len(shop.order_requests())
    Worker(burst=True, poll_seconds=0.05).run()
    resumed.refresh_from_db()
    assert resumed.status == "succeeded", resumed.error
    first_request = shop.order_requests()[before]
    assert first_request["updated_since"] == "2026-01-03T00:00:00Z"  # page 1's checkpoint
    binding = Sync.objects.get(pk=sync["id"]).table_bindings.get()
    assert len(table_rows(binding.physical_table_name)) == 7


@pytest.mark.django_db(transaction=True)
def test_fan_out_entity_runs_a_child_job_per_entity(api, make_sync, shop):
    sync = make_sync(entities=["orders", "customers"], execution_mode="fan_out_entity")
    run = run_of(trigger(api, sync))
    Worker(concurrency=2, burst=True, poll_seconds=0.05).run()
    run.refresh_from_db()
    assert run.status == "succeeded", (run.error, run.summary)
    children = Job.objects.filter(job_class="syncs.run_task", unicity__startswith=
                                  f"sync-run:{run.pk}:")
    assert children.count() == 2 and set(children.values_list("status", flat=True)) == {
        "succeeded"}
    assert run.summary["rows_written"] == 10


@pytest.mark.django_db(transaction=True)
def test_fan_out_window_splits_the_cursor_range(api, make_sync, shop):
    sync = make_sync(execution_mode="fan_out_window",
                     execution_config={"window": "P2D", "start_date": "2025-12-31T00:00:00Z"})
    run = run_of(trigger(api, sync))
    Worker(concurrency=2, burst=True, poll_seconds=0.05).run()
    run.refresh_from_db()
    assert run.status == "succeeded", (run.error, run.summary)
    windows = [t for t in run.summary["tasks"].values() if t["window"]]
    assert len(windows) > 3
    windowed = [r for r in shop.order_requests() if "updated_until" in r]
    assert {r["updated_since"] for r in windowed} >= {"2025-12-31T00:00:00Z",
                                                      "2026-01-02T00:00:00Z"}
    binding = Sync.objects.get(pk=sync["id"]).table_bindings.get()
    assert len(table_rows(binding.physical_table_name)) == 7
    state = SyncState.objects.get(sync_id=sync["id"], entity_key="orders")
    assert state.cursor == max(t["window"][1] for t in windows)


# --- scheduler ------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_scheduler_triggers_once_per_slot_with_concurrent_schedulers(api, make_sync):
    sync = make_sync(trigger_mode="scheduled", schedule={"cron": "*/5 * * * *",
                                                         "timezone": "Europe/Paris"})
    row = Sync.objects.get(pk=sync["id"])
    assert row.next_run_at > timezone.now()
    Sync.objects.filter(pk=row.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    results = []
    barrier = threading.Barrier(4)

    def scheduler():
        barrier.wait()
        try:
            results.extend(services.run_due_schedules())
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 1
    assert SyncRun.objects.filter(sync_id=row.pk, triggered_by="schedule").count() == 1
    assert Sync.objects.get(pk=row.pk).next_run_at > timezone.now()


def test_on_create_trigger(api, make_sync):
    sync = make_sync(trigger_mode="on_create")
    run = SyncRun.objects.get(sync_id=sync["id"])
    assert run.triggered_by == "on_create"


# --- reads, tenancy, grammar -----------------------------------------------------------------

def test_runs_endpoints(api, make_sync, run_job):
    sync = make_sync()
    run = run_of(trigger(api, sync))
    for url in (f"/api/v1/syncs/{sync['id']}/runs", "/api/v1/sync-runs",
                f"/api/v1/sync-runs?filter[sync]={sync['id']}&filter[status]=pending"):
        assert [r["id"] for r in body(api.get(url))["data"]] == [str(run.pk)], url
    assert body(api.get(f"/api/v1/syncs/runs/{run.pk}"))["data"]["id"] == str(run.pk)
    document = body(api.get("/api/v1/syncs?included=last_run"))
    assert document["data"][0]["relationships"]["last_run"]["data"]["id"] == str(run.pk)
    assert document["included"][0]["type"] == "sync-runs"


def test_reference_compatibility_parameters(api, connection):
    for index in range(3):
        assert create(api, connection, name=f"Sync {index}", entities=["orders"],
                      status="active" if index else "paused").status_code == 201
    names_of = lambda d: [i["attributes"]["name"] for i in d["data"]]  # noqa: E731
    names = lambda r: names_of(body(r))  # noqa: E731
    assert names(api.get("/api/v1/syncs?q=sync 1")) == ["Sync 1"]
    assert names(api.get("/api/v1/syncs?status=paused")) == ["Sync 0"]
    assert names(api.get("/api/v1/syncs?status=paused&status=active")) == [
        "Sync 0", "Sync 1", "Sync 2"]
    assert names(api.get("/api/v1/syncs?provider=http_api&limit=2&offset=1")) == [
        "Sync 1", "Sync 2"]
    assert names(api.get("/api/v1/syncs?provider=shopify")) == []
    assert error_of(api.get("/api/v1/syncs?limit=101"), 400)["source"] == {
        "parameter": "limit"}
    # Cursors are a family of their own on syncs too: walked in it, refused mixed with limit.
    first = body(api.get("/api/v1/syncs?page[size]=2&page[after]="))
    assert names_of(first) == ["Sync 0", "Sync 1"]
    assert names(api.get(first["links"]["next"])) == ["Sync 2"]
    for query, named in (("limit=2&page[after]=", "page[after]"),
                         ("page[before]=&offset=1", "offset")):
        assert error_of(api.get(f"/api/v1/syncs?{query}"), 400)["source"] == {
            "parameter": named}
    assert error_of(api.get("/api/v1/syncs?filter[provider]=nope"), 400)["source"] == {
        "parameter": "filter[provider]"}


def test_tenancy(api, other_api, connection, make_sync):
    sync = make_sync()
    run = run_of(trigger(api, sync))
    for url in (f"/api/v1/connections/{connection['id']}", f"/api/v1/syncs/{sync['id']}",
                f"/api/v1/syncs/{sync['id']}/runs", f"/api/v1/syncs/runs/{run.pk}",
                f"/api/v1/sync-runs/{run.pk}"):
        error_of(other_api.get(url), 404)
    error_of(send(other_api, "post", f"/api/v1/syncs/{sync['id']}/trigger",
                  "sync-triggers"), 404)
    error_of(send(other_api, "post", f"/api/v1/syncs/runs/{run.pk}/cancel",
                  "sync-run-cancels"), 404)
    error_of(other_api.delete(f"/api/v1/syncs/{sync['id']}"), 404)
    for url in ("/api/v1/connections", "/api/v1/syncs", "/api/v1/sync-runs"):
        assert body(other_api.get(url))["data"] == []
    assert SyncRun.objects.get(pk=run.pk).status == "pending"


def test_delete_archives_and_is_409_while_running(api, make_sync):
    sync = make_sync()
    run_of(trigger(api, sync))
    error_of(api.delete(f"/api/v1/syncs/{sync['id']}"), 409)
    SyncRun.objects.update(status="failed")
    assert api.delete(f"/api/v1/syncs/{sync['id']}").status_code == 204
    assert Sync.objects.get(pk=sync["id"]).status == "archived"


def test_providers_and_catalog(api):
    providers = body(api.get("/api/v1/syncs/providers"))["data"]
    assert len(providers) == 21 and providers[0]["id"] == "shopify"
    catalog = body(api.get("/api/v1/syncs/providers/shopify/catalog"))["data"]["attributes"]
    assert "orders" in catalog["available_resources"]
    assert catalog["config_schema"]["type"] == "object"
    error_of(api.get("/api/v1/syncs/providers/nope/catalog"), 404)
    error_of(api.get("/api/v1/syncs/providers?x=1"), 400)


@pytest.mark.parametrize("url", ["/api/v1/syncs?page[size]={}&included=connection,"
                                 "table_bindings,last_run,project",
                                 "/api/v1/sync-runs?page[size]={}&included=sync,job",
                                 "/api/v1/connections?page[size]={}&included=project"])
def test_constant_queries(api, make_sync, url, django_assert_max_num_queries):
    for index in range(3):
        sync = make_sync(name=f"S{index}")
        run_of(trigger(api, sync))
    with django_assert_max_num_queries(12) as small:
        assert len(body(api.get(url.format(1)))["data"]) == 1
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(body(api.get(url.format(1000)))["data"]) >= 1


@pytest.mark.django_db(transaction=True)  # the CSV fast path reads on its own connection
def test_a_synced_table_is_exportable_with_filters_on_its_columns(api, make_sync, shop,
                                                                  run_job, media_storage):
    import csv
    import io

    from django.core.files.storage import default_storage

    from exports.models import Export

    sync = make_sync()
    run_job(run_of(trigger(api, sync)).job_id)
    logical = Sync.objects.get(pk=sync["id"]).table_bindings.get().logical_table_name
    response = api.send_document("post", "/api/v1/exports/export", "exports", {
        "resource_type": logical, "format": "csv", "fields": ["id", "status", "total"],
        "filters": {"status": "paid", "total__gte": "30"}})
    assert response.status_code == 202, response.content
    export = Export.objects.get(pk=body(response)["data"]["id"])
    run_job(export.job_id)
    export.refresh_from_db()
    assert export.status == "success", export.errors_log
    with default_storage.open(export.files.get().storage_name) as fh:
        rows = list(csv.DictReader(io.StringIO(fh.read().decode())))
    from tests.syncs.conftest import ORDERS

    expected = sorted(o["id"] for o in ORDERS if o["status"] == "paid" and o["total"] >= 30)
    assert sorted(int(r["id"]) for r in rows) == expected
    assert set(rows[0]) == {"id", "status", "total"}
    error = error_of(api.send_document("post", "/api/v1/exports/export", "exports", {
        "resource_type": logical, "filters": {"nope": "1"}}), 422)
    assert error["source"]["pointer"] == "/data/attributes/filters/nope"
    error = error_of(api.send_document("post", "/api/v1/exports/export", "exports", {
        "resource_type": "no_such_table"}), 422)
    assert logical in error["detail"]  # the project's synced tables are listed
