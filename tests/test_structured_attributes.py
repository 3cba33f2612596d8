# ruff: noqa: F811
"""Typed structured attributes (issue 14): every structured attribute has one JSON Schema,
enforced on write (422 with ``source.pointer`` at the exact member) and published in the
OpenAPI document; scalar attributes are not coerced; stored rows that fail today's schemas
never 500 a trigger or a read, and ``manage.py check_stored_config`` lists them."""

from __future__ import annotations

import copy
import io
import re

import orjson
import pytest
from django.core.management import CommandError, call_command
from drf_spectacular.generators import SchemaGenerator
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from exports.models import Export
from syncs import schemas
from syncs.models import Connection, Sync, SyncRun
from syncservice.jsonapi import MEDIA_TYPE
from syncservice.jsonschema import openapi30
from syncservice.jsonschema import validate as schema_errors
from tests.conftest import body, error_of

# The syncs package's fixtures (a local shop API, its connection, a sync factory), used here by
# name: the parameters below redefine the imported names on purpose.
from tests.syncs.conftest import connection, make_sync, shop, shop_config  # noqa: F401

SYNCS = "/api/v1/syncs"


def send(api, method: str, url: str, type_: str, attributes: dict, relationships=None,
         raw: bytes | None = None, data_id: str | None = None):
    data = {"type": type_, "attributes": attributes}
    if data_id:
        data["id"] = data_id
    if relationships:
        data["relationships"] = relationships
    payload = raw if raw is not None else orjson.dumps({"data": data})
    return getattr(api, method)(url, data=payload, content_type=MEDIA_TYPE)


def patch_sync(api, sync: dict, attributes: dict):
    return send(api, "patch", f"{SYNCS}/{sync['id']}", "syncs", attributes, data_id=sync["id"])


def create_sync(api, connection_id: str, attributes: dict):
    attributes = {"name": "Orders", "entities": ["orders"], **attributes}
    return send(api, "post", SYNCS, "syncs", attributes, relationships={
        "connection": {"data": {"type": "connections", "id": connection_id}}})


def pointer_of(response, status: int = 422) -> str:
    return error_of(response, status)["source"]["pointer"]


# --- the issue's inputs (2-8) and every structured attribute of a sync ----------------------

BAD_SYNC_ATTRIBUTES = [
    # 2-4: schedules that never fire, or are not strings
    ({"schedule": {"cron": "0 0 30 2 *"}}, "/data/attributes/schedule/cron"),
    ({"schedule": {"cron": 5}}, "/data/attributes/schedule/cron"),
    ({"schedule": {"cron": "0 * * * *", "timezone": 5}}, "/data/attributes/schedule/timezone"),
    ({"schedule": {"cron": "0 * * * *", "timezone": "Mars/Base"}},
     "/data/attributes/schedule/timezone"),
    ({"schedule": {"cron": "* * * * * *"}}, "/data/attributes/schedule/cron"),  # seconds
    ({"schedule": {"cron": "0 0 31 2,4 *"}}, "/data/attributes/schedule/cron"),
    ({"schedule": {"cron": "60 * * * *"}}, "/data/attributes/schedule/cron"),
    ({"schedule": {"cron": "*/0 * * * *"}}, "/data/attributes/schedule/cron"),
    ({"schedule": {"cron": "0 0 * * * 2030"}}, "/data/attributes/schedule/cron"),  # a year
    ({"schedule": {"cron": "0 * * * *", "tz": "UTC"}}, "/data/attributes/schedule/tz"),
    ({"schedule": "0 * * * *"}, "/data/attributes/schedule"),
    ({"schedule": None}, "/data/attributes/schedule"),
    # 5: beyond the column
    ({"freshness_sla_seconds": 2**31}, "/data/attributes/freshness_sla_seconds"),
    ({"freshness_sla_seconds": -1}, "/data/attributes/freshness_sla_seconds"),
    ({"freshness_sla_seconds": "60"}, "/data/attributes/freshness_sla_seconds"),
    ({"freshness_sla_seconds": 60.5}, "/data/attributes/freshness_sla_seconds"),
    ({"freshness_sla_seconds": True}, "/data/attributes/freshness_sla_seconds"),
    # 6-8 and 1,000,000: max_auto_resume_attempts is an integer from 0 to 10
    *[({"execution_config": {"max_auto_resume_attempts": value}},
       "/data/attributes/execution_config/max_auto_resume_attempts")
      for value in ("x", None, [1], 1_000_000, -1, True, 2.5, "3")],
    # the other execution_config keys the runner reads, and typos
    ({"execution_config": {"max_auto_resume_attemps": 3}},
     "/data/attributes/execution_config/max_auto_resume_attemps"),
    ({"execution_config": {"queue": 5}}, "/data/attributes/execution_config/queue"),
    ({"execution_config": {"queue": ""}}, "/data/attributes/execution_config/queue"),
    ({"execution_config": {"window": "P1W"}}, "/data/attributes/execution_config/window"),
    ({"execution_config": {"window": "PT0.001S"}}, "/data/attributes/execution_config/window"),
    ({"execution_config": {"start_date": "yesterday"}},
     "/data/attributes/execution_config/start_date"),
    ({"execution_config": {"start_date": "2025-13-45T00:00:00Z"}},
     "/data/attributes/execution_config/start_date"),
    ({"execution_config": {"lookback_days": 0}}, "/data/attributes/execution_config/lookback_days"),
    ({"execution_config": {"lookback_days": "30"}},
     "/data/attributes/execution_config/lookback_days"),
    ({"execution_config": {"slicing": {"orders": {"default_window": "forever"}}}},
     "/data/attributes/execution_config/slicing/orders/default_window"),
    ({"execution_config": {"slicing": {"orders": {"kind": "by_magic"}}}},
     "/data/attributes/execution_config/slicing/orders/kind"),
    ({"execution_config": {"slicing": {"a/b": {"size": 1}}}},
     "/data/attributes/execution_config/slicing/a~1b/size"),
    ({"execution_config": []}, "/data/attributes/execution_config"),
    # table bindings
    ({"table_bindings": [{"entity_key": "orders", "load_mode": "merge"}]},
     "/data/attributes/table_bindings/0/load_mode"),
    ({"table_bindings": [{"entity_key": "orders", "colour": "red"}]},
     "/data/attributes/table_bindings/0/colour"),
    ({"table_bindings": [{"load_mode": "upsert"}]},
     "/data/attributes/table_bindings/0/entity_key"),
    ({"table_bindings": [{"entity_key": "orders", "primary_key_columns": "id"}]},
     "/data/attributes/table_bindings/0/primary_key_columns"),
    ({"table_bindings": [{"entity_key": "orders", "logical_table_name": "x" * 256}]},
     "/data/attributes/table_bindings/0/logical_table_name"),
    ({"table_bindings": ["orders"]}, "/data/attributes/table_bindings/0"),
    # entities, source and destination config
    ({"entities": [1]}, "/data/attributes/entities/0"),
    ({"entities": "orders"}, "/data/attributes/entities"),
    ({"source_config": {"base_url": 5}}, "/data/attributes/source_config/base_url"),
    ({"source_config": {"bsae_url": "http://127.0.0.1/"}},
     "/data/attributes/source_config/bsae_url"),
    ({"source_config": {"entities": {"orders": 5}}},
     "/data/attributes/source_config/entities/orders"),
    ({"source_config": []}, "/data/attributes/source_config"),
    ({"destination_config": "warehouse"}, "/data/attributes/destination_config"),
    # strict scalar types: no coercion
    ({"name": 123}, "/data/attributes/name"),
    ({"name": ""}, "/data/attributes/name"),
    ({"name": "x" * 256}, "/data/attributes/name"),
    ({"slug": 5}, "/data/attributes/slug"),
    ({"slug": "Orders"}, "/data/attributes/slug"),
    ({"slug": "a--b"}, "/data/attributes/slug"),
    ({"slug": "orders-"}, "/data/attributes/slug"),
    ({"status": 1}, "/data/attributes/status"),
    ({"status": True}, "/data/attributes/status"),
    ({"trigger_mode": ["manual"]}, "/data/attributes/trigger_mode"),
    ({"execution_mode": None}, "/data/attributes/execution_mode"),
    ({"task_slug": 7}, "/data/attributes/task_slug"),
    ({"connection_id": 123}, "/data/attributes/connection_id"),
]


@pytest.mark.parametrize("attributes,pointer", BAD_SYNC_ATTRIBUTES)
def test_patch_with_a_bad_attribute_is_422_at_the_member(api, make_sync, attributes, pointer):
    sync = make_sync()
    before = Sync.objects.values().get(pk=sync["id"])
    assert pointer_of(patch_sync(api, sync, attributes)) == pointer
    assert Sync.objects.values().get(pk=sync["id"]) == before


@pytest.mark.parametrize("attributes,pointer", BAD_SYNC_ATTRIBUTES)
def test_create_with_a_bad_attribute_is_422_at_the_member(api, connection, attributes,
                                                          pointer):
    assert pointer_of(create_sync(api, connection["id"], attributes)) == pointer
    assert not Sync.objects.exists()


def test_a_number_beyond_any_column_is_a_client_error(api, make_sync):
    """10**400 (issue input 5): refused before any database sees it."""
    sync = make_sync()
    raw = (b'{"data": {"type": "syncs", "id": "%s", "attributes": '
           b'{"freshness_sla_seconds": 1%s}}}' % (sync["id"].encode(), b"0" * 400))
    response = send(api, "patch", f"{SYNCS}/{sync['id']}", "syncs", {}, raw=raw)
    assert response.status_code in (400, 422), response.content
    assert error_of(response, response.status_code)["source"]["pointer"].startswith("/data")
    assert Sync.objects.get(pk=sync["id"]).freshness_sla_seconds is None


GOOD_SYNC_ATTRIBUTES = [
    {"schedule": {"cron": "*/5 * * * *", "timezone": "Europe/Paris"},
     "trigger_mode": "scheduled"},
    {"schedule": {"cron": "@hourly"}, "trigger_mode": "scheduled"},
    {"schedule": {"cron": "0,30 9-17 * jan-jun MON-FRI", "timezone": "America/New_York"}},
    {"schedule": {"cron": "0 0 29 2 *"}},  # leap days: fires within the horizon
    {"schedule": {}},
    {"freshness_sla_seconds": 2**31 - 1},
    {"freshness_sla_seconds": None},
    {"execution_config": {"max_auto_resume_attempts": 0, "queue": "syncs.fast",
                          "window": "PT6H", "start_date": "2025-12-31T00:00:00Z",
                          "lookback_days": 7,
                          "slicing": {"orders": {"default_window": "P1DT12H"}}}},
    {"execution_config": {"max_auto_resume_attempts": 10, "start_date": None}},
    {"table_bindings": [{"entity_key": "orders", "load_mode": "upsert",
                         "primary_key_columns": ["id"], "logical_table_name": "my_orders"}]},
    {"source_config": {"max_retries": 1, "entities": {"orders": {"status": "paid"}}}},
    {"destination_config": {"schema": "analytics", "anything": [1, 2]}},
]


@pytest.mark.parametrize("attributes", GOOD_SYNC_ATTRIBUTES)
def test_valid_attributes_are_stored_as_given(api, make_sync, attributes):
    sync = make_sync()
    response = patch_sync(api, sync, attributes)
    assert response.status_code == 200, response.content
    stored = body(response)["data"]["attributes"]
    for name, value in attributes.items():
        if name != "table_bindings":
            assert stored[name] == value


@pytest.mark.parametrize("name", ["東京", "   ", "!!!", "  padded  "])
def test_any_name_makes_a_sync(api, connection, name):
    """A name is any non-empty string, kept as given; a slug is derived from it, or
    generated when it has no letter or digit to derive one from."""
    response = create_sync(api, connection["id"], {"name": name})
    assert response.status_code == 201, response.content
    attributes = body(response)["data"]["attributes"]
    assert attributes["name"] == name
    if name.strip() == "padded":
        assert attributes["slug"] == "padded"
    assert re.match(r"^[a-z0-9]+((_|-(?!-))+[a-z0-9]+)*$", attributes["slug"])


def test_the_trigger_uses_the_validated_execution_config(api, make_sync):
    sync = make_sync(execution_config={"max_auto_resume_attempts": 4, "queue": "fast"})
    response = send(api, "post", f"{SYNCS}/{sync['id']}/trigger", "sync-triggers", {})
    assert response.status_code == 202, response.content
    run = SyncRun.objects.get(pk=body(response)["data"]["id"])
    assert run.max_auto_resume_attempts == 4
    assert run.job.queue == "fast"
    default = make_sync(name="Defaults", slug="defaults")
    response = send(api, "post", f"{SYNCS}/{default['id']}/trigger", "sync-triggers", {})
    run = SyncRun.objects.get(pk=body(response)["data"]["id"])
    assert (run.max_auto_resume_attempts, run.job.queue) == (2, "default")


def test_a_scheduled_sync_needs_a_cron(api, make_sync):
    sync = make_sync()
    assert pointer_of(patch_sync(api, sync, {"trigger_mode": "scheduled"})) == \
        "/data/attributes/schedule/cron"


# --- other write documents: strict types ----------------------------------------------------

@pytest.mark.parametrize("attributes,pointer", [
    ({"provider": 5, "name": "x"}, "/data/attributes/provider"),
    ({"provider": "http_api", "name": 123, "config": {"base_url": "http://127.0.0.1/"}},
     "/data/attributes/name"),
    ({"provider": "http_api", "name": "x", "config": "http://127.0.0.1/"},
     "/data/attributes/config"),
    ({"provider": "http_api", "name": "x", "config": {"base_url": "http://127.0.0.1/"},
      "secrets": ["token"]}, "/data/attributes/secrets"),
    ({"provider": "s3", "name": "bucketless"}, "/data/attributes/config/bucket"),
    # secrets whose required members are in an anyOf (a password or a private key)
    ({"provider": "sftp", "name": "x", "config": {"host": "sftp.example.com",
                                                  "username": "u"}},
     "/data/attributes/secrets/password"),
    ({"provider": "s3", "name": "x", "config": {"bucket": "my-bucket", "regoin": "eu"}},
     "/data/attributes/config/regoin"),
])
def test_connection_attributes_are_typed(api, attributes, pointer):
    response = send(api, "post", "/api/v1/connections", "connections", attributes)
    assert pointer_of(response) == pointer
    assert not Connection.objects.exists()


@pytest.mark.parametrize("attributes,pointer", [
    ({"resource_type": 5}, "/data/attributes/resource_type"),
    ({"resource_type": "jobs", "format": 1}, "/data/attributes/format"),
    ({"resource_type": "jobs", "compress": 1}, "/data/attributes/compress"),
    ({"resource_type": "jobs", "dry_data": "true"}, "/data/attributes/dry_data"),
    ({"resource_type": "jobs", "reference": 5}, "/data/attributes/reference"),
    ({"resource_type": "jobs", "filters": {"status": {"eq": "failed"}}},
     "/data/attributes/filters/status"),
    ({"resource_type": "jobs", "filters": {"status": None}}, "/data/attributes/filters/status"),
    ({"resource_type": "jobs", "filters": ["status"]}, "/data/attributes/filters"),
    ({"resource_type": "jobs", "fields": [1]}, "/data/attributes/fields/0"),
    ({"resource_type": "jobs", "fields": {"status": True}}, "/data/attributes/fields"),
    ({"resource_type": "jobs", "includes": [""]}, "/data/attributes/includes/0"),
    ({"resource_type": "jobs", "metadata": "note"}, "/data/attributes/metadata"),
])
def test_export_attributes_are_typed(api, attributes, pointer):
    response = send(api, "post", "/api/v1/exports/export", "exports", attributes)
    assert pointer_of(response) == pointer
    assert not Export.objects.exists()


def test_export_lists_may_be_null(api):
    """The fuzzer's `includes: null`: valid by the schema, so accepted (as none)."""
    response = send(api, "post", "/api/v1/exports/export", "exports", {
        "resource_type": "jobs", "includes": None, "fields": None, "filters": None,
        "metadata": None})
    assert response.status_code == 202, response.content
    export = Export.objects.get()
    assert (export.includes, export.fields, export.filters) == ([], [], {})


@pytest.mark.parametrize("url_suffix,type_,attributes,pointer", [
    ("trigger", "sync-triggers", {"run_mode": 1}, "/data/attributes/run_mode"),
    ("trigger", "sync-triggers", {"run_mode": "sideways"}, "/data/attributes/run_mode"),
])
def test_action_attributes_are_typed(api, make_sync, url_suffix, type_, attributes, pointer):
    sync = make_sync()
    response = send(api, "post", f"{SYNCS}/{sync['id']}/{url_suffix}", type_, attributes)
    assert pointer_of(response) == pointer
    assert not SyncRun.objects.exists()


def test_cancel_reason_is_a_string(api, make_sync):
    sync = make_sync()
    run = body(send(api, "post", f"{SYNCS}/{sync['id']}/trigger", "sync-triggers", {}))
    response = send(api, "post", f"/api/v1/sync-runs/{run['data']['id']}/cancel",
                    "sync-run-cancels", {"reason": 5})
    assert pointer_of(response) == "/data/attributes/reason"
    assert SyncRun.objects.get().status == "pending"


# --- stored data may be bad too -------------------------------------------------------------

STORED_BAD = [
    ({"execution_config": {"max_auto_resume_attempts": "x"}},
     "execution_config/max_auto_resume_attempts"),
    ({"execution_config": {"max_auto_resume_attempts": None}},
     "execution_config/max_auto_resume_attempts"),
    ({"execution_config": {"max_auto_resume_attempts": [1]}},
     "execution_config/max_auto_resume_attempts"),
    ({"execution_config": {"max_auto_resume_attempts": 1_000_000}},
     "execution_config/max_auto_resume_attempts"),
    ({"execution_config": {"queue": {"name": "x"}}}, "execution_config/queue"),
    ({"execution_config": "fast"}, "execution_config"),
]


@pytest.mark.parametrize("stored,field", STORED_BAD)
def test_trigger_of_a_stored_bad_sync_is_409_naming_the_field(api, make_sync, stored, field):
    sync = make_sync()
    Sync.objects.filter(pk=sync["id"]).update(**stored)
    error = error_of(send(api, "post", f"{SYNCS}/{sync['id']}/trigger", "sync-triggers", {}),
                     409)
    assert error["code"] == "invalid_stored_config"
    assert field in error["detail"]
    assert not SyncRun.objects.exists()
    # Reads still work, and the field can be fixed.
    assert api.get(SYNCS).status_code == 200
    assert api.get(f"{SYNCS}/{sync['id']}").status_code == 200
    assert api.get(f"{SYNCS}/{sync['id']}?included=last_run,table_bindings").status_code == 200
    fixed = patch_sync(api, sync, {"execution_config": {"max_auto_resume_attempts": 1}})
    assert fixed.status_code == 200, fixed.content
    response = send(api, "post", f"{SYNCS}/{sync['id']}/trigger", "sync-triggers", {})
    assert response.status_code == 202, response.content


def test_retry_of_a_run_whose_sync_went_bad_is_409(api, make_sync):
    sync = make_sync()
    run = body(send(api, "post", f"{SYNCS}/{sync['id']}/trigger", "sync-triggers", {}))
    run_id = run["data"]["id"]
    send(api, "post", f"/api/v1/sync-runs/{run_id}/cancel", "sync-run-cancels", {})
    Sync.objects.filter(pk=sync["id"]).update(execution_config={"window": 5})
    error = error_of(send(api, "post", f"/api/v1/sync-runs/{run_id}/retry",
                          "sync-run-retries", {}), 409)
    assert "execution_config/window" in error["detail"]
    assert SyncRun.objects.count() == 1


def test_patch_of_a_stored_bad_sync(api, make_sync):
    """A PATCH that touches nothing bad succeeds (pausing must work); one that depends on a
    bad stored field is refused naming it."""
    sync = make_sync()
    Sync.objects.filter(pk=sync["id"]).update(
        schedule={"cron": "0 0 30 2 *"}, source_config="oops", entities={"not": "a list"})
    response = patch_sync(api, sync, {"status": "paused", "name": "Renamed"})
    assert response.status_code == 200, response.content
    assert pointer_of(patch_sync(api, sync, {"trigger_mode": "scheduled"})) == \
        "/data/attributes/schedule/cron"
    error = error_of(patch_sync(api, sync, {"table_bindings": []}), 409)
    assert "source_config" in error["detail"]


def test_a_connection_whose_stored_config_went_bad(api, connection, make_sync):
    sync = make_sync()
    Connection.objects.filter(pk=connection["id"]).update(config={"base_url": 5})
    assert api.get("/api/v1/connections").status_code == 200
    assert api.get(f"/api/v1/connections/{connection['id']}").status_code == 200
    error = error_of(create_sync(api, connection["id"], {"name": "Another"}), 422)
    assert error["source"]["pointer"] == "/data/relationships/connection"
    assert "config/base_url" in error["detail"]
    # Pausing the existing sync still works.
    assert patch_sync(api, sync, {"status": "paused"}).status_code == 200


def test_patch_of_a_connection_whose_stored_config_went_bad(api, connection, shop_config):
    url = f"/api/v1/connections/{connection['id']}"
    Connection.objects.filter(pk=connection["id"]).update(config={"base_url": 5})
    assert pointer_of(send(api, "patch", url, "connections", {"name": "renamed"},
                           data_id=connection["id"])) == "/data/attributes/config/base_url"
    fixed = send(api, "patch", url, "connections", {"config": shop_config},
                 data_id=connection["id"])
    assert fixed.status_code == 200, fixed.content
    assert Connection.objects.get(pk=connection["id"]).config == shop_config
    assert pointer_of(send(api, "patch", url, "connections", {"secrets": {"token": 5}},
                           data_id=connection["id"])) == "/data/attributes/secrets/token"


def test_a_connection_whose_stored_secrets_cannot_be_decrypted(api, connection):
    """Secrets stored under a key no longer in SYNCS_SECRETS_KEYS: reads answer 200, a merge
    of new secrets 409, the check reports it."""
    url = f"/api/v1/connections/{connection['id']}"
    Connection.objects.filter(pk=connection["id"]).update(secrets_encrypted="not-a-token")
    listed = api.get("/api/v1/connections")
    assert listed.status_code == 200
    assert body(listed)["data"][0]["attributes"]["secret_names"] == []
    assert api.get(url).status_code == 200
    error = error_of(send(api, "patch", url, "connections", {"secrets": {"token": "t"}},
                          data_id=connection["id"]), 409)
    assert "SYNCS_SECRETS_KEYS" in error["detail"]
    checked = body(send(api, "post", f"{url}/check", "connections", {}))
    assert checked["data"]["attributes"]["last_check_status"] == "failed"


def test_stored_problems_name_the_fields(make_sync, connection):
    sync = Sync.objects.get(pk=make_sync()["id"])
    assert schemas.stored_sync_problems(sync) == []
    Sync.objects.filter(pk=sync.pk).update(
        execution_config={"max_auto_resume_attempts": "x"}, schedule={"cron": 5},
        trigger_mode="scheduled", source_config={"entities": {"orders": []}})
    sync.refresh_from_db()
    assert [pointer for pointer, _ in schemas.stored_sync_problems(sync)] == [
        "/execution_config/max_auto_resume_attempts", "/schedule/cron",
        "/source_config/entities/orders"]
    Connection.objects.filter(pk=connection["id"]).update(config={"streams": 5})
    sync = Sync.objects.select_related("connection").get(pk=sync.pk)
    assert ("/connection/config/streams", "must be of type array") in \
        schemas.stored_sync_problems(sync)


# --- manage.py check_stored_config ----------------------------------------------------------

def _check(**options) -> str:
    out = io.StringIO()
    call_command("check_stored_config", stdout=out, **options)
    return out.getvalue()


def test_check_stored_config_passes_on_good_data(make_sync, connection):
    make_sync()
    assert "All 2 stored connections and syncs pass" in _check()


def test_check_stored_config_lists_bad_rows_and_fails(make_sync, connection, project):
    good = make_sync(name="Good", slug="good")
    bad = make_sync(name="Bad", slug="bad")
    Sync.objects.filter(pk=bad["id"]).update(
        execution_config={"max_auto_resume_attempts": "x"})
    s3 = Connection.objects.create(project=project, provider="s3", name="no bucket",
                                   config={"prefix": 5})
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("check_stored_config", stdout=out)
    assert raised.value.returncode == 1
    assert "2 of 4" in str(raised.value)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    (connection_line,) = [line for line in lines if line.startswith("connection ")]
    assert str(s3.pk) in connection_line
    assert "config/bucket is a required property" in connection_line
    assert "config/prefix must be of type string" in connection_line
    (sync_line,) = [line for line in lines if line.startswith("sync ")]
    assert bad["id"] in sync_line and good["id"] not in sync_line
    assert "execution_config/max_auto_resume_attempts must be of type integer" in sync_line


def test_check_stored_config_reports_undecryptable_secrets(project):
    Connection.objects.create(project=project, provider="http_api", name="x",
                              config={"base_url": "http://127.0.0.1/"},
                              secrets_encrypted="not-a-token")
    with pytest.raises(CommandError):
        _check()


@pytest.mark.slow
def test_check_stored_config_exit_status(transactional_db, api, make_sync, connection):
    """As a process on the database: exit status 1 while a row is bad, 0 once it is fixed (a
    deployment can gate on it)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import test_database_url

    def run() -> subprocess.CompletedProcess:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
               "DATABASE_URL": test_database_url()}
        return subprocess.run([sys.executable, "manage.py", "check_stored_config"],
                              cwd=Path(__file__).resolve().parent.parent, env=env,
                              capture_output=True, text=True, timeout=60)

    sync = make_sync()
    Sync.objects.filter(pk=sync["id"]).update(schedule={"cron": "0 0 30 2 *"})
    failed = run()
    assert failed.returncode == 1, failed.stderr
    assert f"sync {sync['id']}" in failed.stdout and "schedule/cron" in failed.stdout
    assert patch_sync(api, sync, {"schedule": {"cron": "0 * * * *"}}).status_code == 200
    passed = run()
    assert passed.returncode == 0, passed.stdout + passed.stderr


# --- one schema, enforced and published -----------------------------------------------------

@pytest.fixture(scope="module")
def openapi() -> dict:
    return orjson.loads(orjson.dumps(SchemaGenerator().get_schema(request=None, public=True)))


def _component(document: dict, name: str) -> dict:
    return document["components"]["schemas"][name]


def _resolved(document: dict, node):
    """``node`` with every local $ref replaced (for validating instances against it)."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _resolved(document, _component(document, node["$ref"].rsplit("/", 1)[1]))
        return {k: _resolved(document, v) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolved(document, v) for v in node]
    return node


@pytest.mark.parametrize("component,schema", [
    ("Schedule", schemas.SCHEDULE), ("ExecutionConfig", schemas.EXECUTION_CONFIG),
    ("DestinationConfig", schemas.DESTINATION_CONFIG),
    ("TableBindingList", schemas.TABLE_BINDINGS),
])
def test_the_enforced_schema_is_the_published_one(openapi, component, schema):
    assert _component(openapi, component) == openapi30(schema)
    sync_request = _component(openapi, "SyncsCreateRequest")
    attributes = sync_request["properties"]["data"]["properties"]["attributes"]["properties"]
    field = {"Schedule": "schedule", "ExecutionConfig": "execution_config",
             "DestinationConfig": "destination_config",
             "TableBindingList": "table_bindings"}[component]
    assert attributes[field] == {"$ref": f"#/components/schemas/{component}"}


@pytest.mark.parametrize("field,value", [
    (field, value) for attributes, _ in BAD_SYNC_ATTRIBUTES
    for field, value in attributes.items()
    if field in ("schedule", "execution_config", "table_bindings", "destination_config")
    # All but what JSON Schema cannot say: whether a well-formed cron ever fires (the
    # server's `cron` format, stated in the description).
    and not (field == "schedule" and isinstance(value, dict)
             and value.get("cron") in ("0 0 30 2 *", "0 0 31 2,4 *"))
])
def test_the_published_schema_rejects_what_the_server_rejects(openapi, field, value):
    component = {"schedule": "Schedule", "execution_config": "ExecutionConfig",
                 "table_bindings": "TableBindingList",
                 "destination_config": "DestinationConfig"}[field]
    published = _resolved(openapi, _component(openapi, component))
    assert not OAS30Validator(published, format_checker=oas30_format_checker).is_valid(value)


@pytest.mark.parametrize("attributes", GOOD_SYNC_ATTRIBUTES)
def test_the_published_schema_accepts_what_the_server_accepts(openapi, attributes):
    components = {"schedule": "Schedule", "execution_config": "ExecutionConfig",
                  "table_bindings": "TableBindingList",
                  "destination_config": "DestinationConfig"}
    for field, value in attributes.items():
        if field in components:
            published = _resolved(openapi, _component(openapi, components[field]))
            assert OAS30Validator(published, format_checker=oas30_format_checker).is_valid(value), \
                (field, value)


def test_connection_config_is_published_per_provider(openapi):
    from syncs.providers import base as catalog

    request = _component(openapi, "ConnectionsCreateRequest")
    attributes = request["properties"]["data"]["properties"]["attributes"]
    assert attributes["discriminator"]["propertyName"] == "provider"
    mapping = attributes["discriminator"]["mapping"]
    assert set(mapping) == set(catalog.provider_keys())
    assert len(attributes["oneOf"]) == len(mapping)
    s3 = _component(openapi, "S3ConnectionAttributes")
    assert s3["properties"]["provider"] == {"type": "string", "enum": ["s3"]}
    assert s3["properties"]["config"] == {"$ref": "#/components/schemas/S3Config"}
    assert s3["required"] == ["provider", "name", "config"]  # s3 may use the AWS chain
    assert _component(openapi, "SftpConnectionAttributes")["required"] == [
        "provider", "name", "config", "secrets"]
    assert _component(openapi, "S3Config") == openapi30(catalog.get_provider("s3").config_schema)
    assert "bucket" in _component(openapi, "S3Config")["required"]
    for spec in catalog.all_providers():
        name = "".join(part.capitalize() for part in spec.key.split("_"))
        assert _component(openapi, f"{name}Secrets") == openapi30(spec.secrets_schema)
        assert _component(openapi, f"{name}SourceConfig") == \
            openapi30(schemas.source_config_schema(spec.key))


def test_export_attributes_are_published(openapi):
    from exports import schemas as export_schemas

    assert _component(openapi, "ExportFilters") == openapi30(export_schemas.FILTERS)
    assert _component(openapi, "ExportIncludes")["nullable"] is True


# --- the OpenAPI 3.0 translation keeps the meaning ------------------------------------------

CONDITIONAL = {
    "type": "object",
    "properties": {"mode": {"enum": ["a", "b"]}, "key": {"type": ["string", "null"]},
                   "n": {"type": "integer", "exclusiveMinimum": 0}},
    "if": {"properties": {"mode": {"const": "a"}}, "required": ["mode"]},
    "then": {"required": ["key"]},
    "else": {"properties": {"key": {"const": None}}},
    "dependentRequired": {"n": ["mode"]},
    "additionalProperties": False,
}


@pytest.mark.parametrize("instance", [
    {}, {"mode": "a"}, {"mode": "a", "key": "k"}, {"mode": "a", "key": None},
    {"mode": "b", "key": "k"}, {"mode": "b", "key": None}, {"n": 1}, {"n": 1, "mode": "b"},
    {"n": 0, "mode": "b"}, {"mode": "c"}, {"key": 5}, {"other": 1},
])
def test_openapi30_translation_is_equivalent(instance):
    translated = openapi30(copy.deepcopy(CONDITIONAL))
    assert "if" not in translated and "dependentRequired" not in translated
    assert OAS30Validator(translated).is_valid(instance) == \
        (schema_errors(CONDITIONAL, instance) == [])
