"""`/` and `/api/v1/` answer with where to go (docs, schema, every collection), not a 404."""

import orjson
import pytest
from django.test import Client

from syncservice.index import collections
from syncservice.jsonapi import MEDIA_TYPE

COLLECTIONS = {"projects", "jobs", "exports", "connections", "syncs", "sync-runs",
               "syncs/providers", "events"}


@pytest.mark.parametrize("path", ["/", "/api/v1/", "/api/v1"])
def test_index_links_docs_schema_and_collections(db, path):
    response = Client().get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == MEDIA_TYPE
    document = orjson.loads(response.content)
    assert document["jsonapi"] == {"version": "1.1"}
    assert "data" not in document and "errors" not in document
    links = document["links"]
    base = "http://testserver"
    assert links["self"] == f"{base}{path}"
    assert links["docs"] == f"{base}/api/v1/docs"
    assert links["schema"] == links["describedby"] == f"{base}/api/v1/schema"
    for name in COLLECTIONS:
        assert links[name] == f"{base}/api/v1/{name}", name
    assert "X-API-Key" in document["meta"]["authentication"]


def test_every_linked_page_answers(db, api):
    """Every link is a page that exists: the collections answer 200 with a key (401 without),
    the docs and schema without one."""
    document = orjson.loads(Client().get("/api/v1/").content)
    for name, url in document["links"].items():
        path = url.removeprefix("http://testserver")
        if name in COLLECTIONS:
            assert api.get(path).status_code == 200, name
            if name != "syncs/providers":  # the public catalog
                assert Client().get(path).status_code == 401, name
        elif name == "admin":
            assert Client().get(path).status_code == 302  # to the login page
        else:
            assert Client().get(path).status_code == 200, name


def test_collections_come_from_the_url_configuration():
    found = set(collections())
    assert found == COLLECTIONS
    # Aliases (syncs/runs), actions (exports/export, exports/formats) and the docs are not.
    assert not found & {"syncs/runs", "exports/export", "exports/formats", "schema", "docs"}


def test_a_browser_gets_the_links_as_html(db):
    response = Client().get("/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    for name in ("docs", "schema", *COLLECTIONS):
        assert f'">{name}</a>' in html, name
    # A JSON:API client that also takes HTML gets JSON:API.
    response = Client().get("/", HTTP_ACCEPT=f"{MEDIA_TYPE}, text/html")
    assert response["Content-Type"] == MEDIA_TYPE


def test_index_is_read_only_and_other_paths_stay_404(db):
    client = Client()
    response = client.post("/api/v1/")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert client.get("/nothing-here").status_code == 404
    assert client.get("/api/v1/nothing-here").status_code == 404
    assert client.get("/api/v1/nothing-here")["Content-Type"] == MEDIA_TYPE
