"""Throttling, body size, CORS, and the outbound (SSRF) guard."""

import orjson
import pytest
from django.core.cache import cache

from syncservice import netguard
from tests.conftest import body, error_of


@pytest.fixture(autouse=True)
def clear_throttles():
    cache.clear()
    yield
    cache.clear()


def test_requests_over_the_rate_are_429_with_retry_after(api, settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"api_key": "3/min"}}
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        for _ in range(3):
            assert api.get("/api/v1/projects").status_code == 200
        response = api.get("/api/v1/projects")
        error_of(response, 429)
        assert int(response["Retry-After"]) > 0
    finally:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                                   "DEFAULT_THROTTLE_RATES": {"api_key": "1200/min"}}
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


def test_throttles_are_per_key(api, other_api, settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"api_key": "2/min"}}
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        api.get("/api/v1/projects")
        api.get("/api/v1/projects")
        assert api.get("/api/v1/projects").status_code == 429
        assert other_api.get("/api/v1/projects").status_code == 200
    finally:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                                   "DEFAULT_THROTTLE_RATES": {"api_key": "1200/min"}}
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


def test_too_large_documents_are_413(api, make_job, project, settings):
    settings.API_MAX_BODY_BYTES = 200
    job = make_job(project)
    document = {"data": {"type": "job-signals", "attributes": {"signal": "cancel",
                                                               "padding": "x" * 500}}}
    response = api.post(f"/api/v1/jobs/{job.pk}/signal", data=orjson.dumps(document),
                        content_type="application/vnd.api+json")
    error_of(response, 413)
    job.refresh_from_db()
    assert job.status == "pending"


def test_cors_only_for_allowed_origins(api, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    allowed = api.get("/api/v1/projects", HTTP_ORIGIN="https://app.example.com")
    assert allowed["Access-Control-Allow-Origin"] == "https://app.example.com"
    other = api.get("/api/v1/projects", HTTP_ORIGIN="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in other
    preflight = api.options("/api/v1/projects", HTTP_ORIGIN="https://app.example.com",
                            HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-api-key")
    assert "x-api-key" in preflight["Access-Control-Allow-Headers"]


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/", "http://localhost/",
                                 "http://10.0.0.5/", "http://192.168.1.1/x",
                                 "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
                                 "http://0.0.0.0/", "ftp://example.com/", "http:///nohost"])
def test_internal_destinations_are_refused(settings, url):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(netguard.UnsafeDestination):
        netguard.check_url(url)


def test_public_and_allowed_destinations_pass(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = ["localhost"]
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.1.0.0/16"]
    netguard.check_url("https://93.184.216.34/api")
    netguard.check_url("http://localhost:9000/")
    netguard.check_url("http://10.1.2.3/")
    with pytest.raises(netguard.UnsafeDestination):
        netguard.check_url("http://10.2.0.1/")


def test_connection_to_an_internal_url_is_422(api, settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    response = api.send_document("post", "/api/v1/connections", "connections", {
        "provider": "http_api", "name": "metadata",
        "config": {"base_url": "http://169.254.169.254/"}})
    error = error_of(response, 422)
    assert error["source"] == {"pointer": "/data/attributes/config/base_url"}
    assert "private or internal" in error["detail"]
    assert body(api.get("/api/v1/connections"))["data"] == []


def test_run_time_guard(settings):
    from syncs.connectors import CheckFailed, open_source

    settings.OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(CheckFailed, match="private or internal"):
        open_source("http_api", {"base_url": "http://127.0.0.1:1/"}, {})
