"""Transport-level limits are JSON:API errors: bodies over the limit (413), methods a path does
not serve (405 with Allow), and — from the HTTP server itself — request lines over its limit
(414, documented in the OpenAPI document)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from django.core.cache import cache

from syncservice.jsonapi import MEDIA_TYPE
from tests.conftest import error_of
from tests.conftest import test_database_url as database_url

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clear_throttles():
    cache.clear()
    yield
    cache.clear()


def _document(size: int) -> bytes:
    return orjson.dumps({"data": {"type": "syncs", "attributes": {"name": "x" * size}}})


# --- 413 -----------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [1_100_000, 3_000_000])
def test_a_body_over_the_limit_is_413(api, size):
    """Over API_MAX_BODY_BYTES (1 MiB) and over Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB,
    which was a 500 RequestDataTooBig): the same JSON:API 413."""
    response = api.post("/api/v1/syncs", data=_document(size), content_type=MEDIA_TYPE)
    error = error_of(response, 413)
    assert error["code"] == "payload_too_large"
    assert "1048576 bytes" in error["detail"]


def test_djangos_own_ceiling_inside_drf_is_413(api, settings):
    """A body under API_MAX_BODY_BYTES but over DATA_UPLOAD_MAX_MEMORY_SIZE (settings where the
    API limit is the larger) is refused by Django while DRF reads it: still a 413."""
    settings.API_MAX_BODY_BYTES = 10_000_000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post("/api/v1/syncs", data=_document(5000), content_type=MEDIA_TYPE)
    error_of(response, 413)


def test_djangos_own_ceiling_outside_drf_is_413(db, settings):
    """Read outside DRF (here Django's form parsing of a POST to a plain view): 413 too."""
    from django.test import RequestFactory

    from syncservice.jsonapi.errors import handler400

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    request = RequestFactory().post("/healthz", data={"a": "x" * 500})
    from django.core.exceptions import RequestDataTooBig

    with pytest.raises(RequestDataTooBig) as raised:
        request.POST  # noqa: B018 - reading it is what raises
    response = handler400(request, raised.value)
    assert response.status_code == 413
    assert json.loads(response.content)["errors"][0]["code"] == "payload_too_large"


def test_a_body_over_the_limit_is_413_before_authentication(client, db):
    """Declared too large: refused before anything reads it, credentials or not."""
    response = client.post("/api/v1/syncs", data=_document(1_100_000), content_type=MEDIA_TYPE)
    error_of(response, 413)


def test_a_body_at_the_limit_is_parsed(api, settings):
    settings.API_MAX_BODY_BYTES = len(_document(1000))
    response = api.post("/api/v1/syncs", data=_document(1000), content_type=MEDIA_TYPE)
    assert response.status_code == 422, response.content  # parsed: the name is too long


# --- 405 -----------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "FOO"])
@pytest.mark.parametrize("path,allow", [
    ("/api/v1/syncs", "GET, HEAD, POST, OPTIONS"),
    ("/api/v1/exports/formats?modalities=tabular", "GET, HEAD, OPTIONS"),
    ("/api/v1/schema", "GET, HEAD"),
    ("/healthz", "GET, HEAD"),
])
def test_methods_no_view_serves_are_405_with_allow(api, method, path, allow):
    """TRACE was a 400 (the query grammar answered before the method check)."""
    response = api.generic(method, path)
    error = error_of(response, 405)
    assert error["code"] == "method_not_allowed"
    assert response["Allow"] == allow


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_standard_methods_a_path_does_not_serve_are_405_before_auth_and_query(client, api,
                                                                               method):
    for caller in (client, api):
        response = getattr(caller, method)("/api/v1/exports/formats?unknown=1")
        error_of(response, 405)
        assert response["Allow"] == "GET, HEAD, OPTIONS"


def test_unknown_paths_stay_404_for_any_method(api):
    error_of(api.generic("TRACE", "/api/v1/nothing-here"), 404)


def test_plain_views_serve_only_get(client, db):
    response = client.post("/healthz")
    error_of(response, 405)
    assert response["Allow"] == "GET, HEAD"
    assert client.get("/healthz").status_code == 200


# --- the real server ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": database_url(), "MEDIA_ROOT": str(tmp_path / "media"),
           "DEBUG": "false", "HOME": str(tmp_path)}
    env.pop("TEST_SQLITE_NAME", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "syncservice.wsgi", "-c",
         "python:syncservice.observability.gunicorn_conf", "-b", f"127.0.0.1:{port}", "-w",
         "1"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, \
                    "gunicorn did not start"
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.slow
def test_limits_through_gunicorn(gunicorn, api):
    key = api._credentials["HTTP_X_API_KEY"]
    headers = {"X-API-Key": key, "Content-Type": MEDIA_TYPE}
    with httpx.Client(base_url=gunicorn, timeout=30) as http:
        # 3 MB: read and answered, not a connection reset, not a 500.
        response = http.post("/api/v1/syncs", content=_document(3_000_000), headers=headers)
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == MEDIA_TYPE
        assert response.json()["errors"][0]["code"] == "payload_too_large"

        response = http.request("TRACE", "/api/v1/syncs", headers={"X-API-Key": key})
        assert response.status_code == 405, response.text
        assert response.headers["allow"] == "GET, HEAD, POST, OPTIONS"
        assert response.json()["errors"][0]["status"] == "405"

        # The request line over gunicorn's limit (4094 bytes): gunicorn's own 414.
        response = http.get("/api/v1/syncs", params={"filter[q]": "x" * 5000},
                            headers={"X-API-Key": key})
        assert response.status_code == 414
        # Just under it: the API answers.
        response = http.get("/api/v1/syncs", params={"filter[q]": "x" * 3900},
                            headers={"X-API-Key": key})
        assert response.status_code == 200, response.text
