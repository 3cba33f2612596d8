"""A synced table exports its values as the source gave them, on SQLite as on PostgreSQL:
nested objects and arrays as JSON (not strings holding JSON), booleans as booleans (not 0/1),
the whole record (``_record``) as an object and ``_synced_at`` as an ISO datetime in UTC."""

import json
import re

import pytest
from django.core.files.storage import default_storage
from werkzeug import Response

from exports.models import Export
from syncs.models import Sync, SyncRun
from tests.conftest import body

RECORDS = [
    {"id": 1, "name": "first", "paid": True, "total": 12.5, "count": 3,
     "customer": {"email": "a@example.com", "address": {"city": "Lyon", "zip": "69001"}},
     "lines": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}], "tags": ["x", "y"],
     "note": None},
    {"id": 2, "name": "second", "paid": False, "total": 0.1, "count": 0,
     "customer": {"email": "b@example.com", "address": None}, "lines": [], "tags": [],
     "note": "{\"looks\": \"like json\"}"},
]
SYNCED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


@pytest.fixture
def source(httpserver):
    httpserver.expect_request("/things").respond_with_handler(
        lambda request: Response(json.dumps({"data": RECORDS}),
                                 content_type="application/json"))
    return httpserver.url_for("/")


@pytest.mark.django_db(transaction=True)  # the PostgreSQL CSV path reads on its own connection
@pytest.mark.parametrize("load_mode", ["upsert", "append_event", "replace"])
def test_jsonl_export_of_a_synced_table_keeps_json_values(api, source, run_job, media_storage,
                                                          load_mode):
    connection = api.send_document("post", "/api/v1/connections", "connections", {
        "provider": "http_api", "name": "things", "config": {
            "base_url": source, "streams": [{
                "name": "things", "path": "/things", "record_selector": "$.data",
                "primary_key": ["id"], "load_mode": load_mode}]}})
    assert connection.status_code == 201, connection.content
    document = {"data": {"type": "syncs", "attributes": {
        "name": "Things", "entities": ["things"], "status": "active"}, "relationships": {
        "connection": {"data": {"type": "connections",
                                "id": body(connection)["data"]["id"]}}}}}
    sync = api.post("/api/v1/syncs", data=json.dumps(document),
                    content_type="application/vnd.api+json")
    assert sync.status_code == 201, sync.content
    sync = Sync.objects.get(pk=body(sync)["data"]["id"])
    trigger = api.send_document("post", f"/api/v1/syncs/{sync.pk}/trigger", "sync-triggers",
                                {"run_mode": "full_refresh"})
    run = SyncRun.objects.get(pk=body(trigger)["data"]["id"])
    run_job(run.job_id)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error

    logical = sync.table_bindings.get().logical_table_name
    for export_format in ("jsonl", "json"):
        response = api.send_document("post", "/api/v1/exports/export", "exports", {
            "resource_type": logical, "format": export_format})
        assert response.status_code == 202, response.content
        export = Export.objects.get(pk=body(response)["data"]["id"])
        run_job(export.job_id)
        export.refresh_from_db()
        assert export.status == "success", export.errors_log
        with default_storage.open(export.files.get().storage_name) as fh:
            text = fh.read().decode()
        rows = [json.loads(line) for line in text.splitlines()] \
            if export_format == "jsonl" else json.loads(text)
        rows.sort(key=lambda row: int(row["id"]))
        assert len(rows) == len(RECORDS)
        for row, record in zip(rows, RECORDS, strict=True):
            assert row["_record"] == record
            assert SYNCED_AT.match(row["_synced_at"]), row["_synced_at"]
            for key, value in record.items():
                if key == "id":
                    # Key columns are text, whatever the source's type (both databases).
                    assert str(row["id"]) == str(value)
                elif value is not None or key in row:
                    assert row[key] == value, (export_format, key, row[key])
