"""Every endpoint and method that names a resource, called with a key of another project:
404, and nothing in the database changes. Collections list nothing of the other project."""

import re

import orjson
import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from exports.models import Export, ExportFile
from jobs.models import Job
from syncs.models import Connection, Sync, SyncRun, TableBinding
from syncservice.accounts.models import ApiKey, Project
from syncservice.events.models import Event
from syncservice.events.services import record_for
from tests.conftest import body, error_of

pytestmark = pytest.mark.usefixtures("media_storage")

# (method, path template, request document type or None) for every route with an id.
MATRIX = [
    ("get", "/api/v1/projects/{project}", None),
    ("get", "/api/v1/jobs/{job}", None),
    ("delete", "/api/v1/jobs/{job}", None),
    ("post", "/api/v1/jobs/{job}/signal", "job-signals"),
    ("get", "/api/v1/exports/{export}", None),
    ("delete", "/api/v1/exports/{export}", None),
    ("get", "/api/v1/exports/{export}/download", None),
    ("get", "/api/v1/connections/{connection}", None),
    ("patch", "/api/v1/connections/{connection}", "connections"),
    ("delete", "/api/v1/connections/{connection}", None),
    ("post", "/api/v1/connections/{connection}/check", None),
    ("get", "/api/v1/syncs/{sync}", None),
    ("patch", "/api/v1/syncs/{sync}", "syncs"),
    ("delete", "/api/v1/syncs/{sync}", None),
    ("post", "/api/v1/syncs/{sync}/trigger", "sync-triggers"),
    ("get", "/api/v1/syncs/{sync}/runs", None),
    ("get", "/api/v1/sync-runs/{run}", None),
    ("get", "/api/v1/syncs/runs/{run}", None),
    ("post", "/api/v1/syncs/runs/{run}/cancel", "sync-run-cancels"),
    ("post", "/api/v1/syncs/runs/{run}/retry", "sync-run-retries"),
    ("post", "/api/v1/sync-runs/{run}/cancel", "sync-run-cancels"),
    ("post", "/api/v1/sync-runs/{run}/retry", "sync-run-retries"),
    ("get", "/api/v1/table-bindings/{binding}", None),
    ("patch", "/api/v1/table-bindings/{binding}", "table-bindings"),
    ("delete", "/api/v1/table-bindings/{binding}", None),
    ("get", "/api/v1/events/{event}", None),
    ("get", "/api/v1/jobs/{job}/events", None),
    ("get", "/api/v1/exports/{export}/events", None),
    ("get", "/api/v1/sync-runs/{run}/events", None),
    ("get", "/api/v1/syncs/runs/{run}/events", None),
]
COLLECTIONS = ["/api/v1/projects", "/api/v1/jobs", "/api/v1/exports", "/api/v1/connections",
               "/api/v1/syncs", "/api/v1/sync-runs", "/api/v1/events"]
MODELS = [Project, ApiKey, Job, Export, ExportFile, Connection, Sync, TableBinding, SyncRun,
          Event]


@pytest.fixture
def owned(api, project, make_job, make_sync, run_job):
    """One resource of each kind in ``project``, in states where every call could act."""
    job = make_job(project, status="failed")
    response = api.send_document("post", "/api/v1/exports/export", "exports",
                                 {"resource_type": "projects", "format": "csv"})
    export = Export.objects.get(pk=body(response)["data"]["id"])
    run_job(export.job_id)
    sync = make_sync()
    run = SyncRun.objects.create(project=project, sync_id=sync["id"], status="failed")
    event = record_for(run, "failed", {"reason": "boom"})
    record_for(job, "failed", {"reason": "boom"})
    return {"event": event.pk, "project": project.pk, "job": job.pk, "export": export.pk,
            "connection": Sync.objects.get(pk=sync["id"]).connection_id, "sync": sync["id"],
            "run": run.pk,
            "binding": TableBinding.objects.get(sync_id=sync["id"]).pk}


def snapshot() -> dict:
    return {model.__name__: sorted(map(repr, model.objects.values_list()))
            for model in MODELS}


@pytest.mark.parametrize("method,template,doc_type", MATRIX,
                         ids=[f"{m} {t}" for m, t, _ in MATRIX])
def test_other_projects_resources_are_404_and_untouched(other_api, owned, method, template,
                                                        doc_type):
    url = template.format(**owned)
    other_api.get("/api/v1/projects")  # records the key's first use before the snapshot
    before = snapshot()
    if doc_type:
        data = {"type": doc_type, "attributes": {}}
        if method == "patch":
            data["id"] = str(owned[template.split("{")[1].split("}")[0]])
        response = getattr(other_api, method)(url, data=orjson.dumps({"data": data}),
                                              content_type="application/vnd.api+json")
    else:
        response = getattr(other_api, method)(url)
    error_of(response, 404)
    assert snapshot() == before


def test_collections_show_nothing_of_another_project(other_api, owned, other_project):
    for url in COLLECTIONS:
        items = body(other_api.get(url))["data"]
        if url == "/api/v1/projects":
            assert [i["id"] for i in items] == [str(other_project.pk)]
        else:
            assert items == [], url


def _routes(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        text = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, text)
        elif isinstance(pattern, URLPattern):
            yield text


def test_every_api_route_with_an_id_is_in_the_matrix():
    covered = {re.sub(r"\{\w+\}", "ID", t) for _, t, _ in MATRIX}
    missing = []
    for route in _routes():
        if "api/v1/" not in route or "(?P<" not in route or "format" in route:
            continue
        if "providers" in route:  # the catalog is not a project's resource
            continue
        path = re.sub(r"\(\?P<\w+>[^)]*\)", "ID", route)
        path = "/" + path.replace("^", "").replace("$", "").replace("/?", "")
        if path.rstrip("/") not in covered:
            missing.append(path)
    assert missing == []
