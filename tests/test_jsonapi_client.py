"""The API driven by a third-party JSON:API client (``jsonapi-client`` from PyPI) against a
live server: lists with includes, sparse fields, paging through ``links.next`` to the end,
filters, create, update, delete, and error documents.

Where the client has bugs of its own, the test says so and works around them:

- It turns ``_`` into ``-`` and ``__`` into ``.`` in attribute and filter names (a naming
  convention JSON:API does not have; ours are snake_case): attributes are read with
  ``resource["name"]`` and created through the ``fields`` dict, and ``__in`` filters are
  written as a raw query string.
- ``Session.create`` needs a schema of the type, even an empty one (a ``KeyError`` without).
- After a ``DELETE`` it parses the empty body of the ``204 No Content`` as JSON (and raises):
  ``LenientSession`` answers ``{}`` for empty bodies.
"""

from __future__ import annotations

import pytest
import requests
from jsonapi_client import Filter, Inclusion, Modifier, Session
from jsonapi_client.exceptions import DocumentError

from jobs.models import Job
from syncs.models import Connection
from syncservice.accounts.models import ApiKey, Project
from syncservice.accounts.services import create_api_key

SCHEMA = {
    "connections": {"properties": {}},
    "exports": {"properties": {}},
    "syncs": {"properties": {"connection": {"relation": "to-one",
                                            "resource": ["connections"]}}},
}
CONNECTION_CONFIG = {
    "base_url": "https://api.example.com/", "auth": {"type": "none"},
    "streams": [{"name": "orders", "path": "/orders", "primary_key": ["id"]}]}


class LenientSession(Session):
    """Works around the client's DELETE handling: ``response.json()`` on a 204's empty body
    raises in ``Session.http_request``; an empty body is ``{}`` here."""

    def http_request(self, http_method, url, send_json, expected_statuses=None):
        if http_method.lower() != "delete":
            return super().http_request(http_method, url, send_json, expected_statuses)
        response = requests.request(http_method, url, **self._request_kwargs)
        if response.status_code != 204:
            raise DocumentError(f"Could not DELETE ({response.status_code})",
                                errors={"status_code": response.status_code},
                                response=response)
        return response.status_code, {}, response.headers.get("Location")


@pytest.fixture
def world(transactional_db, media_storage):
    project = Project.objects.create(name="client")
    other = Project.objects.create(name="other")
    _, key = create_api_key(project, scope=ApiKey.Scope.WRITE)
    for index in range(7):
        Job.objects.create(project=project, job_class="jobs.noop", priority=index,
                           status="failed" if index % 2 else "succeeded")
    Job.objects.create(project=other, job_class="jobs.noop")
    return {"project": project, "key": key}


@pytest.fixture
def session(live_server, world):
    session = LenientSession(f"{live_server.url}/api/v1", schema=SCHEMA,
                             request_kwargs={"headers": {"X-API-Key": world["key"]}})
    yield session
    session.close()


def test_list_with_include_and_sparse_fields(session, world):
    document = session.get("jobs", Inclusion("project") + Modifier("fields[jobs]=status,project"))
    assert len(document.resources) == 7
    for job in document.resources:
        assert set(job.json["attributes"]) == {"status"}
    # The included project is in the session's cache: reading the relationship fetches nothing.
    assert ("projects", str(world["project"].pk)) in session.resources_by_resource_identifier
    assert document.resources[0]["project"]["name"] == "client"


def test_paging_through_links_to_the_end(session):
    seen = [job.id for job in session.iterate("jobs", Modifier("page[size]=2&sort=priority"))]
    assert len(seen) == len(set(seen)) == 7
    assert seen == [str(pk) for pk in Job.objects.filter(project__name="client")
                    .order_by("priority").values_list("pk", flat=True)]


def test_paging_in_the_limit_offset_family_to_the_end(session, world):
    for index in range(5):
        session.create_and_commit("connections", {
            "provider": "http_api", "name": f"c{index}", "config": CONNECTION_CONFIG})
    connection = Connection.objects.filter(project=world["project"]).first()
    names = set()
    for index in range(5):
        sync = session.create("syncs", {"name": f"s{index}", "connection": str(connection.pk)})
        sync.commit()
        names.add(sync["name"])
    seen = [sync["name"] for sync in session.iterate("syncs", Modifier("limit=2&offset=0"))]
    assert sorted(seen) == sorted(names)


def test_filters(session):
    # The client's own Filter turns `status__in` into `filter[status.in]` (its naming
    # convention), which is no filter here: the error names what it sent.
    with pytest.raises(DocumentError) as raised:
        session.get("jobs", Filter(status__in="failed"))
    assert raised.value.errors["status_code"] == 400
    error = raised.value.response.json()["errors"][0]
    assert error["source"] == {"parameter": "filter[status.in]"}
    # Written as the API spells it, the filter works.
    failed = session.get("jobs", Filter("filter[status__in]=failed&filter[priority__gte]=2"))
    assert sorted(job["priority"] for job in failed.resources) == [3, 5]
    assert {job["status"] for job in failed.resources} == {"failed"}
    # A plain name goes through the client's Filter unchanged.
    assert len(session.get("jobs", Filter(status="succeeded")).resources) == 4


def test_create_update_delete(session, world):
    connection = session.create("connections", {
        "provider": "http_api", "name": "made by a client", "config": CONNECTION_CONFIG})
    connection.commit()
    assert connection.id and connection["name"] == "made by a client"
    assert Connection.objects.get(pk=connection.id).project_id == world["project"].pk

    sync = session.create("syncs", {"name": "client sync", "connection": connection.id})
    sync.commit()
    assert sync["status"] == "draft"
    assert sync["connection"].id == connection.id

    # Update: only the changed attribute goes in the PATCH.
    connection["name"] = "renamed"
    connection.commit()
    assert Connection.objects.get(pk=connection.id).name == "renamed"
    assert session.get("connections", connection.id).resource["name"] == "renamed"

    # The standard create of exports: 202 with the pending export (the client reads it from
    # the answer because of the 202).
    export = session.create("exports", {"resource_type": "jobs", "format": "csv"}).commit()
    assert export.type == "exports" and export["status"] == "pending"

    # Delete: 409 while a sync uses the connection (an error document), then 204.
    connection.delete()
    with pytest.raises(DocumentError) as raised:
        connection.commit()
    assert raised.value.errors["status_code"] == 409
    other = session.create_and_commit("connections", {
        "provider": "http_api", "name": "unused", "config": CONNECTION_CONFIG})
    other.delete()
    other.commit()
    assert not Connection.objects.filter(pk=other.id).exists()


def test_error_documents(session):
    with pytest.raises(DocumentError) as raised:
        session.get("jobs", Modifier("page[size]=0"))
    assert raised.value.errors["status_code"] == 400
    assert raised.value.response.json()["errors"][0]["source"] == {"parameter": "page[size]"}
    with pytest.raises(DocumentError) as raised:
        session.get("jobs", "00000000-0000-4000-8000-000000000000")
    assert raised.value.errors["status_code"] == 404
    bad = session.create("connections", {"provider": "http_api", "name": "x",
                                         "config": {"base_url": "not a url"}})
    with pytest.raises(DocumentError) as raised:
        bad.commit()
    assert raised.value.errors["status_code"] == 422
    error = raised.value.response.json()["errors"][0]
    assert error["source"]["pointer"].startswith("/data/attributes/config")
