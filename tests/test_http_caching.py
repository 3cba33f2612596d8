"""ETag / If-None-Match (304) on show and list responses, and gzip for large JSON responses
when the client accepts it (never for streamed export downloads)."""

import gzip

import orjson
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from exports.models import Export, ExportFile
from syncservice.jsonapi import MEDIA_TYPE
from tests.conftest import body


@pytest.fixture
def many_jobs(project, make_job):
    return [make_job(project, "demo.job", payload={"n": index, "text": "x" * 50})
            for index in range(30)]


@pytest.fixture(params=[True, False], ids=["fast", "stock"])
def either_path(request, settings):
    settings.JSONAPI_FAST_PATH = request.param
    return request.param


@pytest.mark.parametrize("url", ["/api/v1/jobs?included=project",
                                 "/api/v1/jobs?fields=status&page[size]=5"])
def test_list_has_an_etag_and_answers_304(api, many_jobs, either_path, url):
    response = api.get(url)
    assert response.status_code == 200
    etag = response["ETag"]
    assert etag.startswith('"') and len(etag) > 10
    again = api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert api.get(url, HTTP_IF_NONE_MATCH='"something-else"').status_code == 200


def test_show_has_an_etag_and_answers_304(api, many_jobs, either_path):
    url = f"/api/v1/jobs/{many_jobs[0].pk}?included=project"
    etag = api.get(url)["ETag"]
    assert api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert api.get(url, HTTP_IF_NONE_MATCH=f"W/{etag}").status_code == 304  # weak match


def test_etag_changes_with_the_content(api, many_jobs):
    url = f"/api/v1/jobs/{many_jobs[0].pk}"
    etag = api.get(url)["ETag"]
    many_jobs[0].priority = 42
    many_jobs[0].save()
    response = api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag
    assert body(response)["data"]["attributes"]["priority"] == 42


def test_same_etag_on_both_paths(api, many_jobs, settings):
    """The fast and the stock path serve the same bytes, hence the same ETag."""
    url = "/api/v1/jobs?included=project"
    settings.JSONAPI_FAST_PATH = True
    fast_etag = api.get(url)["ETag"]
    settings.JSONAPI_FAST_PATH = False
    assert api.get(url)["ETag"] == fast_etag


def test_errors_and_writes_are_not_304(api, many_jobs, other_api, make_client):
    url = f"/api/v1/jobs/{many_jobs[0].pk}"
    etag = api.get(url)["ETag"]
    assert other_api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 404  # other tenant
    assert make_client("ssk_nope").get(url, HTTP_IF_NONE_MATCH=etag).status_code == 401
    response = api.delete(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code in (204, 409)


def test_large_lists_are_gzipped_when_accepted(api, many_jobs, either_path):
    url = "/api/v1/jobs?included=project"
    plain = api.get(url)
    assert "Content-Encoding" not in plain
    assert len(plain.content) >= 1024
    zipped = api.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert zipped.status_code == 200
    assert zipped["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped["Vary"]
    assert zipped["Content-Type"] == MEDIA_TYPE
    assert len(zipped.content) < len(plain.content)
    assert orjson.loads(gzip.decompress(zipped.content)) == orjson.loads(plain.content)
    # The ETag is the same representation's, made weak by the compression; it still matches.
    assert zipped["ETag"] == f"W/{plain['ETag']}"
    assert api.get(url, HTTP_ACCEPT_ENCODING="gzip",
                   HTTP_IF_NONE_MATCH=zipped["ETag"]).status_code == 304


def test_small_responses_are_not_gzipped(api, project, settings):
    response = api.get(f"/api/v1/projects/{project.pk}", HTTP_ACCEPT_ENCODING="gzip")
    assert len(response.content) < settings.JSONAPI_GZIP_MIN_BYTES
    assert "Content-Encoding" not in response


def test_gzip_threshold_is_a_setting(api, project, settings):
    settings.JSONAPI_GZIP_MIN_BYTES = 10
    response = api.get(f"/api/v1/projects/{project.pk}", HTTP_ACCEPT_ENCODING="gzip")
    assert response["Content-Encoding"] == "gzip"
    assert body_of_gzip(response)["data"]["id"] == str(project.pk)


def body_of_gzip(response) -> dict:
    return orjson.loads(gzip.decompress(response.content))


@pytest.fixture
def downloadable(project, media_storage):
    content = b"id,name\n" + b"".join(b"%d,row %d\n" % (i, i) for i in range(500))
    storage_name = default_storage.save("exports/test/data.csv", ContentFile(content))
    export = Export.objects.create(project=project, resource_type="jobs", format="csv",
                                   status="success", filename="data.csv", mime_type="text/csv",
                                   size=len(content), records_count=500)
    ExportFile.objects.create(export=export, index=1, storage_name=storage_name,
                              filename="data.csv", size=len(content), records_count=500,
                              sha256="0" * 64, mime_type="text/csv")
    return export, content


def test_downloads_are_streamed_as_is(api, downloadable, settings):
    """A streamed file keeps its Content-Length and bytes, gzip accepted or not."""
    settings.JSONAPI_GZIP_MIN_BYTES = 10
    export, content = downloadable
    response = api.get(f"/api/v1/exports/{export.pk}/download", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response.streaming
    assert "Content-Encoding" not in response
    assert response["Content-Length"] == str(len(content))
    assert b"".join(response.streaming_content) == content
    assert "ETag" not in response


def test_html_is_not_gzipped(client, db, settings):
    settings.JSONAPI_GZIP_MIN_BYTES = 10
    response = client.get("/admin/login/", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert "Content-Encoding" not in response
