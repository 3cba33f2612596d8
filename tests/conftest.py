"""Shared fixtures and factories for every test package."""

from __future__ import annotations

import orjson
import pytest
from rest_framework.test import APIClient

from syncservice.accounts.models import ApiKey, Project
from syncservice.accounts.services import create_api_key
from syncservice.jsonapi import MEDIA_TYPE


class JsonApiClient(APIClient):
    """A test client that speaks JSON:API: ``.doc(url)`` returns the parsed body."""

    def send_document(self, method: str, url: str, type_: str, attributes: dict | None = None,
                      **extra):
        body = {"data": {"type": type_, "attributes": attributes or {}}}
        return getattr(self, method)(url, data=orjson.dumps(body), content_type=MEDIA_TYPE,
                                     **extra)


@pytest.fixture
def project(db) -> Project:
    return Project.objects.create(name="acme")


@pytest.fixture
def other_project(db) -> Project:
    return Project.objects.create(name="globex")


@pytest.fixture
def make_key(db):
    def make(project: Project, scope: str = ApiKey.Scope.WRITE, **kwargs) -> str:
        _, raw_key = create_api_key(project, scope=scope, **kwargs)
        return raw_key

    return make


@pytest.fixture
def make_client(db):
    def make(raw_key: str | None = None) -> JsonApiClient:
        client = JsonApiClient()
        if raw_key:
            client.credentials(HTTP_X_API_KEY=raw_key)
        return client

    return make


@pytest.fixture
def api(project, make_key, make_client) -> JsonApiClient:
    """A client with a write-scope key of ``project``."""
    return make_client(make_key(project))


@pytest.fixture
def other_api(other_project, make_key, make_client) -> JsonApiClient:
    """A client with a write-scope key of another project."""
    return make_client(make_key(other_project))


def body(response) -> dict:
    assert response["Content-Type"].startswith(MEDIA_TYPE), response["Content-Type"]
    return orjson.loads(response.content)


def error_of(response, status: int) -> dict:
    """Assert ``response`` is a JSON:API error document with ``status``; return its error."""
    assert response.status_code == status, (response.status_code, response.content)
    document = body(response)
    assert document["jsonapi"] == {"version": "1.1"}
    assert "data" not in document
    (error,) = document["errors"]
    assert error["status"] == str(status)
    assert {"status", "code", "title", "detail"} <= set(error)
    return error
