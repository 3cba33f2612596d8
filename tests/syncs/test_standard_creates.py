"""Standard JSON:API creates beside the reference actions: ``POST /exports`` (as
``/exports/export``), ``Location`` on every 201 and on 202s that return the created resource,
and 001's action bodies (``{}``, no body, or a JSON:API document)."""

import orjson
import pytest

from exports.models import Export
from jobs.models import Job
from syncs.models import SyncRun
from syncservice.jsonapi import MEDIA_TYPE
from tests.conftest import body, error_of

pytestmark = pytest.mark.usefixtures("media_storage")

EXPORT = {"resource_type": "jobs", "format": "csv"}


@pytest.mark.parametrize("path", ["/api/v1/exports", "/api/v1/exports/export"])
def test_export_create_on_the_collection_and_the_action(api, project, path):
    response = api.send_document("post", path, "exports", EXPORT)
    assert response.status_code == 202, response.content
    data = body(response)["data"]
    assert data["type"] == "exports" and data["attributes"]["status"] == "pending"
    assert response["Location"] == data["links"]["self"]
    assert response["Location"].endswith(f"/api/v1/exports/{data['id']}")
    assert Export.objects.get(pk=data["id"]).job_id is not None


def test_export_create_same_codes_as_the_action(api, project):
    assert api.send_document("post", "/api/v1/exports", "exports", EXPORT).status_code == 202
    # One active export per resource type: 409, as /exports/export says.
    error = error_of(api.send_document("post", "/api/v1/exports", "exports", EXPORT), 409)
    assert error["status"] == "409"
    error = error_of(api.send_document("post", "/api/v1/exports", "exports",
                                       {"resource_type": "jobs", "nope": 1}), 422)
    assert error["source"] == {"pointer": "/data/attributes/nope"}
    error = error_of(api.send_document("post", "/api/v1/exports", "exports", {}), 422)
    assert error["source"] == {"pointer": "/data/attributes/resource_type"}
    assert Export.objects.count() == 1


def test_location_on_201(api, connection):
    document = {"data": {"type": "syncs", "attributes": {"name": "Located"},
                         "relationships": {"connection": {"data": {
                             "type": "connections", "id": connection["id"]}}}}}
    response = api.post("/api/v1/syncs", data=orjson.dumps(document), content_type=MEDIA_TYPE)
    assert response.status_code == 201
    assert response["Location"] == body(response)["data"]["links"]["self"]
    response = api.send_document("post", "/api/v1/connections", "connections", {
        "provider": "http_api", "name": "second", "config": {
            "base_url": "https://api.example.com/", "auth": {"type": "none"},
            "streams": [{"name": "orders", "path": "/orders", "primary_key": ["id"]}]}})
    assert response.status_code == 201, response.content
    assert response["Location"] == body(response)["data"]["links"]["self"]
    # Not on reads.
    assert "Location" not in api.get("/api/v1/syncs")


@pytest.mark.parametrize("send", ["empty-object", "no-body", "no-content-type", "document"])
def test_trigger_takes_the_reference_bodies(api, make_sync, send):
    sync = make_sync()
    url = f"/api/v1/syncs/{sync['id']}/trigger"
    if send == "empty-object":
        response = api.post(url, data=b"{}", content_type=MEDIA_TYPE)
    elif send == "no-body":
        response = api.post(url, data=b"", content_type=MEDIA_TYPE)
    elif send == "no-content-type":
        response = api.generic("POST", url)
    else:
        response = api.send_document("post", url, "sync-triggers",
                                     {"run_mode": "full_refresh"})
    assert response.status_code == 202, response.content
    data = body(response)["data"]
    run = SyncRun.objects.get(pk=data["id"])
    assert run.run_mode == ("full_refresh" if send == "document" else "incremental")
    assert response["Location"] == data["links"]["self"]


def test_trigger_still_refuses_bad_documents(api, make_sync):
    url = f"/api/v1/syncs/{make_sync()['id']}/trigger"
    assert error_of(api.post(url, data=b"[]", content_type=MEDIA_TYPE), 400)
    assert error_of(api.post(url, data=b'{"run_mode": "x"}', content_type=MEDIA_TYPE), 400)
    error = error_of(api.send_document("post", url, "sync-triggers", {"run_mode": "x"}), 422)
    assert error["source"] == {"pointer": "/data/attributes/run_mode"}


def test_cancel_and_retry_take_an_empty_object(api, make_sync):
    sync = make_sync()
    run_id = body(api.post(f"/api/v1/syncs/{sync['id']}/trigger", data=b"{}",
                           content_type=MEDIA_TYPE))["data"]["id"]
    response = api.post(f"/api/v1/syncs/runs/{run_id}/cancel", data=b"{}",
                        content_type=MEDIA_TYPE)
    assert response.status_code == 200, response.content
    assert SyncRun.objects.get(pk=run_id).status == "cancelled"
    response = api.post(f"/api/v1/syncs/runs/{run_id}/retry", data=b"", content_type=MEDIA_TYPE)
    assert response.status_code == 202, response.content
    assert response["Location"] == body(response)["data"]["links"]["self"]


def test_other_writes_still_need_a_document(api, project):
    job = Job.objects.create(project=project, job_class="jobs.noop")
    for url in ("/api/v1/exports", f"/api/v1/jobs/{job.pk}/signal"):
        error_of(api.post(url, data=b"{}", content_type=MEDIA_TYPE), 400)
        error_of(api.post(url, data=b"", content_type=MEDIA_TYPE), 400)


def test_openapi_documents_location_and_the_create(db):
    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)
    create = document["paths"]["/api/v1/exports"]["post"]
    assert "Location" in create["responses"]["202"]["headers"]
    assert "Location" in document["paths"]["/api/v1/syncs"]["post"]["responses"]["201"][
        "headers"]
    trigger = document["paths"]["/api/v1/syncs/{id}/trigger"]["post"]
    assert trigger["requestBody"]["required"] is False
