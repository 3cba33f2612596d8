"""Write documents carry only what the endpoint takes: an unknown attribute or relationship is
a 422 naming it (a typo is never silently dropped), on every write endpoint; members JSON:API
does not define are a 400."""

from __future__ import annotations

import orjson
import pytest

from syncs.models import Connection, Sync, SyncRun
from syncservice.jsonapi import MEDIA_TYPE
from tests.conftest import error_of


@pytest.fixture(autouse=True)
def service_urls(settings):
    """The service's own routes (this package's conftest serves the test app's)."""
    settings.ROOT_URLCONF = "syncservice.urls"


def _post(api, method: str, url: str, data: dict, **document):
    payload = orjson.dumps({"data": data, **document})
    return getattr(api, method)(url, data=payload, content_type=MEDIA_TYPE)


@pytest.fixture
def targets(api, connection, make_sync, make_job, project, media_storage, shop_config):
    """(method, url, resource object) of a valid document for every write endpoint."""
    sync = make_sync()
    run = SyncRun.objects.create(sync_id=sync["id"], project=project, status="failed",
                                 run_mode="incremental")
    pending = SyncRun.objects.create(sync_id=make_sync(name="Other")["id"], project=project,
                                     status="pending", run_mode="incremental")
    job = make_job(project)
    return {
        "create connection": ("post", "/api/v1/connections", {
            "type": "connections", "attributes": {"provider": "http_api", "name": "n",
                                                  "config": shop_config}}),
        "update connection": ("patch", f"/api/v1/connections/{connection['id']}", {
            "type": "connections", "id": connection["id"], "attributes": {"name": "m"}}),
        "create sync": ("post", "/api/v1/syncs", {
            "type": "syncs", "attributes": {"name": "s", "entities": ["orders"]},
            "relationships": {"connection": {"data": {"type": "connections",
                                                      "id": connection["id"]}}}}),
        "update sync": ("patch", f"/api/v1/syncs/{sync['id']}", {
            "type": "syncs", "id": sync["id"], "attributes": {"status": "paused"}}),
        "trigger": ("post", f"/api/v1/syncs/{sync['id']}/trigger", {
            "type": "sync-triggers", "attributes": {"run_mode": "incremental"}}),
        "cancel": ("post", f"/api/v1/syncs/runs/{pending.pk}/cancel", {
            "type": "sync-run-cancels", "attributes": {"reason": "x"}}),
        "retry": ("post", f"/api/v1/sync-runs/{run.pk}/retry", {
            "type": "sync-run-retries", "attributes": {}}),
        "signal": ("post", f"/api/v1/jobs/{job.pk}/signal", {
            "type": "job-signals", "attributes": {"signal": "cancel"}}),
        "export": ("post", "/api/v1/exports/export", {
            "type": "exports", "attributes": {"resource_type": "jobs", "format": "csv"}}),
    }


def _state():
    return (list(Connection.objects.values_list("name", "updated_at")),
            list(Sync.objects.values_list("status", "updated_at")),
            SyncRun.objects.count())


ENDPOINTS = ["create connection", "update connection", "create sync", "update sync", "trigger",
             "cancel", "retry", "signal", "export"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_unknown_attribute_is_422_naming_it(api, targets, endpoint):
    method, url, data = targets[endpoint]
    before = _state()
    data = {**data, "attributes": {**data["attributes"], "nmae": "typo"}}
    error = error_of(_post(api, method, url, data), 422)
    assert error["source"] == {"pointer": "/data/attributes/nmae"}
    assert error["code"] == "unknown_attribute"
    assert "nmae" in error["detail"]
    assert _state() == before  # nothing was written


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_unknown_relationship_is_422_naming_it(api, targets, endpoint):
    method, url, data = targets[endpoint]
    before = _state()
    relationships = {**data.get("relationships", {}),
                     "owner": {"data": {"type": "projects", "id": "x"}}}
    error = error_of(_post(api, method, url, {**data, "relationships": relationships}), 422)
    assert error["source"] == {"pointer": "/data/relationships/owner"}
    assert error["code"] == "unknown_relationship"
    assert _state() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_valid_documents_pass(api, targets, endpoint):
    """The documents above are valid as they are: the 422s come from the extra member."""
    method, url, data = targets[endpoint]
    response = _post(api, method, url, data)
    assert response.status_code < 300, response.content


def test_every_unknown_member_is_named(api, targets):
    method, url, data = targets["create sync"]
    data = {**data, "attributes": {**data["attributes"], "a": 1, "b": 2}}
    response = _post(api, method, url, data)
    pointers = {e["source"]["pointer"] for e in orjson.loads(response.content)["errors"]}
    assert response.status_code == 422
    assert pointers == {"/data/attributes/a", "/data/attributes/b"}


def test_read_only_attributes_are_not_writable(api, targets):
    method, url, data = targets["update sync"]
    data = {**data, "attributes": {"last_success_at": "2026-01-01T00:00:00Z"}}
    error = error_of(_post(api, method, url, data), 422)
    assert error["source"] == {"pointer": "/data/attributes/last_success_at"}


@pytest.mark.parametrize("linkage,pointer", [
    ({"data": {"type": "projects", "id": "00000000-0000-4000-8000-000000000000"}},
     "/data/relationships/connection/data/type"),
    ({"data": {"type": "connections", "id": "not-a-uuid"}},
     "/data/relationships/connection/data/id"),
    ({"data": None}, "/data/relationships/connection/data"),
    ({"links": {}}, "/data/relationships/connection/data"),
])
def test_a_relationship_with_bad_linkage_is_422(api, targets, linkage, pointer):
    method, url, data = targets["create sync"]
    response = _post(api, method, url, {**data, "relationships": {"connection": linkage}})
    assert error_of(response, 422)["source"] == {"pointer": pointer}


def test_a_missing_linked_resource_is_404(api, targets):
    """JSON:API 1.1: a request that references a related resource that does not exist."""
    method, url, data = targets["create sync"]
    missing = {"data": {"type": "connections", "id": "00000000-0000-4000-8000-000000000000"}}
    response = _post(api, method, url, {**data, "relationships": {"connection": missing}})
    assert error_of(response, 404)["source"] == {"pointer": "/data/relationships/connection"}


@pytest.mark.parametrize("document,pointer", [
    ({"included": []}, "/included"),
    ({"jsonapi": "1.1"}, "/jsonapi"),
    ({"meta": []}, "/meta"),
])
def test_members_json_api_does_not_define_are_400(api, targets, document, pointer):
    method, url, data = targets["create connection"]
    error = error_of(_post(api, method, url, data, **document), 400)
    assert error["source"] == {"pointer": pointer}


@pytest.mark.parametrize("member,value,pointer", [
    ("foo", 1, "/data/foo"),
    ("attributes", [], "/data/attributes"),
    ("meta", "x", "/data/meta"),
    ("id", 5, "/data/id"),
])
def test_unknown_or_malformed_resource_members_are_400(api, targets, member, value, pointer):
    method, url, data = targets["create connection"]
    error = error_of(_post(api, method, url, {**data, member: value}), 400)
    assert error["source"] == {"pointer": pointer}


def test_meta_and_jsonapi_objects_are_accepted(api, targets):
    method, url, data = targets["create connection"]
    response = _post(api, method, url, {**data, "meta": {"k": 1}},
                     jsonapi={"version": "1.1"}, meta={"k": 2})
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("attributes,pointer", [
    ({"config": {"base_url": "http://x/\x00"}}, "/data/attributes/config/base_url"),
    ({"config": {"a/b\x00": 1}}, "/data/attributes/config/a~1b\x00"),
    ({"config": {"streams": [{"name": "o\x00"}]}}, "/data/attributes/config/streams/0/name"),
])
def test_a_nul_character_anywhere_is_422_not_a_database_error(api, targets, attributes,
                                                              pointer):
    """Was a 500 on PostgreSQL (jsonb cannot hold U+0000), found by fuzzing."""
    method, url, data = targets["create connection"]
    data = {**data, "attributes": {**data["attributes"], **attributes}}
    error = error_of(_post(api, method, url, data), 422)
    assert error["source"] == {"pointer": pointer}
    assert error["code"] == "null_character"
