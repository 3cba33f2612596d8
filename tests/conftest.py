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


@pytest.fixture
def make_job(db):
    """Create a Job row directly (no handler runs): ``make_job(project, status="failed")``."""
    from jobs.models import Job

    def make(project: Project | None, job_class: str = "jobs.noop", **fields):
        return Job.objects.create(project=project, job_class=job_class, **fields)

    return make


def is_postgres() -> bool:
    from django.db import connection as db

    return db.vendor == "postgresql"


def test_database_url() -> str:
    """A DATABASE_URL that reaches the test database from another process."""
    from django.db import connection as db

    settings = db.settings_dict
    if db.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    auth = settings["USER"] or "postgres"
    if settings.get("PASSWORD"):
        auth += f":{settings['PASSWORD']}"
    host = settings["HOST"] or "127.0.0.1"
    return f"postgres://{auth}@{host}:{settings['PORT'] or 5432}/{settings['NAME']}"


@pytest.fixture
def spawn_worker(transactional_db):
    """Start ``manage.py run_worker`` processes on the test database; all are killed at the
    end of the test. ``spawn_worker("--burst", env={"JOBS_...": "1"})`` returns the Popen."""
    import os
    import subprocess
    import sys
    import threading
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    processes: list[subprocess.Popen] = []

    def spawn(*args: str, env: dict | None = None) -> subprocess.Popen:
        full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
                    "DATABASE_URL": test_database_url(), "JOBS_BACKEND": "native",
                    **(env or {})}
        process = subprocess.Popen([sys.executable, "manage.py", "run_worker", *args],
                                   cwd=root, env=full_env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        # Drain the output as it comes: a worker must never block on a full pipe (it would
        # stop heartbeating and be reaped). communicate() then returns what was collected.
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
        reader.start()

        def communicate(timeout=None):
            process.wait(timeout)
            reader.join(5)
            return "".join(lines), None

        process.communicate = communicate
        processes.append(process)
        return process

    yield spawn
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05):
    """Poll ``predicate`` until it returns a truthy value or ``timeout`` seconds pass."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)


@pytest.fixture
def media_storage(settings, tmp_path):
    """Local file storage under a temporary folder (never the repository's var/media)."""
    location = tmp_path / "media"
    location.mkdir()
    settings.MEDIA_ROOT = str(location)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(location), "base_url": "/media/"}},
    }
    return location


@pytest.fixture
def admin_client(client, db):
    """The test client logged in as a superuser ("admin"); replaces pytest-django's (which
    logs in another client than ``client``)."""
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


@pytest.fixture
def run_job(db):
    """Run one job inline, as a worker would: ``run_job(job_id)`` returns the final row."""
    from jobs.claiming import claim_by_id
    from jobs.execution import execute
    from jobs.models import Job

    def run(job_id, worker_id: str = "test-worker"):
        job = claim_by_id(job_id, worker_id)
        assert job is not None, f"job {job_id} is not pending"
        execute(job, worker_id)
        return Job.objects.get(pk=job_id)

    return run


# The fake shop API and the connection/sync factories (tests/syncs/conftest.py), shared with
# the tests outside tests/syncs (tenancy matrix, fuzzing).
from tests.syncs.conftest import connection, make_sync, shop, shop_config  # noqa: E402,F401
