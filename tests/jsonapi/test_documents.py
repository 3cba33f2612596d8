"""Media types, unknown parameters and error documents."""

import pytest

from syncservice.jsonapi import MEDIA_TYPE
from tests.conftest import body, error_of


def test_every_document_has_jsonapi_version_and_media_type(api, library):
    response = api.get("/api/v1/books")
    assert response["Content-Type"] == MEDIA_TYPE
    assert body(response)["jsonapi"] == {"version": "1.1"}
    assert body(api.get(f"/api/v1/books/{library[0].pk}"))["jsonapi"] == {"version": "1.1"}


@pytest.mark.parametrize("accept", [MEDIA_TYPE, "*/*", "application/json",
                                    f"text/html, {MEDIA_TYPE};q=0.5",
                                    f"{MEDIA_TYPE}; profile=\"https://x\"",
                                    f"{MEDIA_TYPE}; ext=\"https://x\", {MEDIA_TYPE}"])
def test_acceptable_accept_headers(api, library, accept):
    assert api.get("/api/v1/books", HTTP_ACCEPT=accept).status_code == 200


# JSON:API 1.1: 406 when every JSON:API instance in Accept names an unsupported extension.
@pytest.mark.parametrize("accept", ["text/html", f"{MEDIA_TYPE}; charset=utf-8",
                                    "application/xml", f"{MEDIA_TYPE}; ext=\"https://x\""])
def test_unacceptable_accept_headers_are_406(api, library, accept):
    error_of(api.get("/api/v1/books", HTTP_ACCEPT=accept), 406)


def test_wrong_content_type_is_415(api, library):
    response = api.post("/api/v1/books", data="{}", content_type="application/json")
    # Books are read-only: the method is refused before the body is looked at.
    assert response.status_code in (405, 415)


@pytest.mark.parametrize("parameter", ["bogus", "page", "page[offset]", "fields.x", "sort[x]",
                                       "includes"])
def test_unknown_query_parameters_are_400(api, library, parameter):
    error = error_of(api.get(f"/api/v1/books?{parameter}=1"), 400)
    assert error["source"] == {"parameter": parameter}


@pytest.mark.parametrize("parameter", ["page[size]", "sort", "count", "filter[pages]"])
def test_collection_parameters_on_a_single_resource_are_400(api, library, parameter):
    error = error_of(api.get(f"/api/v1/books/{library[0].pk}?{parameter}=1"), 400)
    assert error["source"] == {"parameter": parameter}


def test_repeated_parameter_is_400(api, library):
    error = error_of(api.get("/api/v1/books?sort=title&sort=pages"), 400)
    assert error["source"] == {"parameter": "sort"}


def test_unknown_paths_under_api_are_jsonapi_404(api):
    for path in ["/api/v1/nope", "/api/v1/books/1/2/3", "/api/v2/books", "/nowhere"]:
        error_of(api.get(path), 404)


def test_missing_resource_is_404(api, library):
    import uuid

    error_of(api.get(f"/api/v1/books/{uuid.uuid4()}"), 404)
    error_of(api.get("/api/v1/books/not-a-uuid"), 404)


def test_method_not_allowed_is_405(api, library):
    error_of(api.delete(f"/api/v1/books/{library[0].pk}"), 405)
    error_of(api.put("/api/v1/books"), 405)


def test_unhandled_exception_is_a_500_document_without_traceback(api, library, monkeypatch):
    from tests.testapp.api import BookViewSet

    def explode(self, *args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(BookViewSet, "list", explode)
    error = error_of(api.get("/api/v1/books"), 500)
    assert "secret internals" not in error["detail"]
    assert "Traceback" not in str(error)
