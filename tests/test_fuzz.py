"""Fuzzing every operation of the OpenAPI schema with schemathesis, against a live server.

``test_api_conforms_to_its_schema`` loads the schema from the server itself
(``/api/v1/schema``) and runs schemathesis' cases for every operation: the documented examples,
then ``FUZZ_MAX_EXAMPLES`` generated requests (valid and invalid ones), with a write-scope key
of a seeded project. Path ids are often those of seeded resources (jobs, connections, syncs,
runs, exports, also another project's job) so requests reach real objects, not only 404s.

Checks: no 5xx; the status code, content type and body are those the schema documents; every
4xx is a JSON:API error document. Deterministic unless ``FUZZ_SEED`` is set; stops calling the
server after ``FUZZ_BUDGET_SECONDS`` (shared fairly between operations). ``FUZZ_COVERAGE=1``
adds schemathesis' coverage phase (boundary and invalid values of every parameter, unexpected
methods): several minutes, for deeper runs. The server may only reach loopback addresses
meanwhile (a connection check of a fuzzed config must not go out).

The other tests pin what fuzzing found, each fixed: regression tests.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import orjson
import pytest
import requests
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.pytest._test_builder import build_operation_test
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from syncservice.jsonapi import MEDIA_TYPE

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "15"))
BUDGET_SECONDS = float(os.environ.get("FUZZ_BUDGET_SECONDS", "150"))
SEED = os.environ.get("FUZZ_SEED")
COVERAGE = os.environ.get("FUZZ_COVERAGE", "") not in ("", "0")
# The documented examples name this connection; the fuzzer swaps in a seeded one.
PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000"
# HTTP servers refuse longer request lines themselves (Python's at 64 KiB with an HTML 414,
# gunicorn at 4 KiB by default), before the application: not the API's answer.
MAX_URL_LENGTH = 8000


# --- the server may only talk to this machine ---------------------------------------------------

def _is_local(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host is None or host in ("localhost", "") or str(host).endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def loopback_only(monkeypatch):
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host):
            raise socket.gaierror(socket.EAI_NONAME, f"fuzz test: no lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def allowed(sock, address) -> bool:
        return sock.family == socket.AF_UNIX or _is_local(address[0])

    def connect(self, address):
        if not allowed(self, address):
            raise ConnectionRefusedError(f"fuzz test: no connection to {address!r}")
        return real_connect(self, address)

    def connect_ex(self, address):
        return real_connect_ex(self, address) if allowed(self, address) else 111  # ECONNREFUSED

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


# --- seeded data ---------------------------------------------------------------------------------

@dataclass
class Seeded:
    key: str
    ids: dict[str, list[str]]
    calls: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    skipped: int = 0
    excluded: int = 0


def _run_job_inline(job_id) -> None:
    from jobs.services import claim_by_id
    from jobs.worker import execute

    job = claim_by_id(job_id, "fuzz-seed")
    assert job is not None
    execute(job, "fuzz-seed")


def _successful_export(project):
    from exports import services as exports
    from exports.models import Export, ExportStatus

    export = exports.create_export(project, exports.ExportRequest(resource_type="jobs",
                                                                  format="csv"))
    _run_job_inline(export.job_id)
    export = Export.objects.get(pk=export.pk)
    assert export.status == ExportStatus.SUCCESS
    return export


@pytest.fixture
def seeded(transactional_db, media_storage) -> Seeded:
    from exports import services as exports
    from jobs.models import Job
    from syncs import services as syncs
    from syncservice.accounts.models import ApiKey, Project
    from syncservice.accounts.services import create_api_key

    project = Project.objects.create(name="fuzz")
    other = Project.objects.create(name="other")
    _, key = create_api_key(project, scope=ApiKey.Scope.WRITE)
    jobs = [Job.objects.create(project=project, job_class="jobs.noop", status=status)
            for status in ("pending", "failed", "succeeded")]
    foreign_job = Job.objects.create(project=other, job_class="jobs.noop")
    config = {"base_url": "http://127.0.0.1:9/", "auth": {"type": "none"},
              "streams": [{"name": "orders", "path": "/orders", "primary_key": ["id"]}]}
    connection = syncs.create_connection(project, provider="http_api", name="shop",
                                         config=config)
    spare = syncs.create_connection(project, provider="http_api", name="spare", config=config)
    active = syncs.create_sync(project, {"name": "Seeded", "connection": connection,
                                         "entities": ["orders"], "status": "active"})
    draft = syncs.create_sync(project, {"name": "Draft", "connection": connection,
                                        "entities": ["orders"]})
    cancelled = syncs.cancel_run(syncs.trigger(active), reason="seed")
    pending = syncs.trigger(active)
    done = _successful_export(project)
    waiting = exports.create_export(project, exports.ExportRequest(resource_type="projects"))
    ids = {
        "jobs": [str(j.pk) for j in jobs] + [str(foreign_job.pk)],
        "connections": [str(connection.pk), str(spare.pk)],
        "syncs": [str(active.pk), str(draft.pk)],
        "runs": [str(cancelled.pk), str(pending.pk)],
        "exports": [str(done.pk), str(waiting.pk)],
        "projects": [str(project.pk), str(other.pk)],
    }
    return Seeded(key=key, ids=ids)


def _ids_for(path: str, ids: dict[str, list[str]]) -> list[str]:
    for prefix, kind in (("/api/v1/jobs/", "jobs"), ("/api/v1/exports/", "exports"),
                         ("/api/v1/connections/", "connections"),
                         ("/api/v1/syncs/runs/", "runs"), ("/api/v1/sync-runs/", "runs"),
                         ("/api/v1/syncs/{sync_pk}", "syncs"), ("/api/v1/syncs/{id}", "syncs"),
                         ("/api/v1/projects/", "projects")):
        if path.startswith(prefix):
            return ids[kind]
    return []


# --- the schema, as the live server serves it ----------------------------------------------------

def load_schema(live_server, seeded: Seeded):
    generation = {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none",
                  "with-security-parameters": False}
    data = {"base-url": f"{live_server.url}/", "generation": generation,
            "phases": {"stateful": {"enabled": False}, "coverage": {"enabled": COVERAGE}}}
    if SEED:
        data["seed"] = int(SEED)
    config = schemathesis.Config.from_dict(data)
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema?format=json",
                                           config=config)

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        candidates = _ids_for(context.operation.path, seeded.ids)
        if not path_parameters or not candidates:
            return st.just(path_parameters)
        name = next(iter(path_parameters))
        return st.sampled_from([None, *candidates]).map(
            lambda real: path_parameters if real is None else {**path_parameters, name: real})

    return schema


def _prepare(case, seeded: Seeded) -> None:
    """A PATCH document carries the id of its path; the examples' placeholder connection
    becomes a seeded one."""
    body = case.body
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return
    if case.method.upper() == "PATCH" and isinstance(data.get("id"), str):
        data["id"] = str((case.path_parameters or {}).get("id"))
    relationships = data.get("relationships")
    linkage = relationships.get("connection") if isinstance(relationships, dict) else None
    if isinstance(linkage, dict) and isinstance(linkage.get("data"), dict) \
            and linkage["data"].get("id") == PLACEHOLDER_ID:
        linkage["data"]["id"] = seeded.ids["connections"][0]


def jsonapi_error_document(ctx, response, case):
    """Every 4xx is a JSON:API error document of that status."""
    if not 400 <= response.status_code < 500:
        return None
    headers = {name.lower(): value for name, value in response.headers.items()}
    content_type = headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.startswith(MEDIA_TYPE), f"4xx with Content-Type {content_type!r}"
    document = response.json()
    errors = document.get("errors") if isinstance(document, dict) else None
    assert isinstance(errors, list) and errors, f"4xx without errors: {document!r}"
    assert "data" not in document
    for error in errors:
        assert error.get("status") == str(response.status_code), error
        for member in ("code", "title", "detail"):
            assert isinstance(error.get(member), str), (member, error)
    return True


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def _url_length(case, base_url: str) -> int:
    kwargs = case.as_transport_kwargs(base_url=base_url)
    request = requests.Request(kwargs["method"], kwargs["url"], params=kwargs.get("params"))
    return len(request.prepare().url)


def _known_bug(case) -> bool:
    """Inputs of open bugs, left out of fuzzing until they are fixed: none now (the regression
    tests below cover the ones fuzzing found)."""
    return False


def fuzz_operation(operation, seeded: Seeded, session: requests.Session, until: float,
                   base_url: str) -> None:
    """schemathesis' cases for ``operation`` (examples, coverage when enabled, then
    ``MAX_EXAMPLES`` positive and negative cases); raises on the first failing check (no
    shrinking: the failing case is reported as generated, with a curl command)."""
    label = f"{operation.method.upper()} {operation.path}"

    def run(case):
        if time.monotonic() > until:
            seeded.skipped += 1
            return
        if _url_length(case, base_url) > MAX_URL_LENGTH or _known_bug(case):
            seeded.excluded += 1
            return
        _prepare(case, seeded)
        response = case.call(session=session, headers={"X-API-Key": seeded.key}, timeout=60)
        seeded.calls[label][response.status_code] += 1
        case.validate_response(response, checks=CHECKS,
                               additional_checks=[jsonapi_error_document],
                               headers={"X-API-Key": seeded.key})

    test = build_operation_test(
        config=operation.schema.config, operation=operation, test_func=run, given_kwargs={},
        feedback=FeedbackSources(),
        explicit_settings=settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                                   print_blob=False, derandomize=SEED is None,
                                   phases=[Phase.explicit, Phase.generate],
                                   suppress_health_check=list(HealthCheck)))
    test()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_api_conforms_to_its_schema(live_server, seeded, loopback_only, subtests):
    schema = load_schema(live_server, seeded)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    # Deletions last: the other operations keep their seeded resources.
    operations.sort(key=lambda op: (op.method.upper() == "DELETE", op.path, op.method))
    started = time.monotonic()
    with requests.Session() as session:
        for index, operation in enumerate(operations):
            # An equal share of what is left of the budget for each remaining operation.
            left = BUDGET_SECONDS - (time.monotonic() - started)
            until = time.monotonic() + max(left, 0) / (len(operations) - index)
            with subtests.test(msg=f"{operation.method.upper()} {operation.path}"):
                fuzz_operation(operation, seeded, session, until, live_server.url)
    calls = sum(sum(c.values()) for c in seeded.calls.values())
    print(f"\nfuzz: {len(operations)} operations, {calls} calls in "
          f"{time.monotonic() - started:.0f}s; {seeded.skipped} cases over budget, "
          f"{seeded.excluded} left out (URL too long or a known bug)")
    for label, statuses in sorted(seeded.calls.items()):
        print(f"  {label}: {dict(sorted(statuses.items()))}")
    assert calls >= len(operations)


# --- what fuzzing found: fixed -------------------------------------------------------------------

def _error(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"] == MEDIA_TYPE
    (error,) = orjson.loads(response.content)["errors"]
    assert error["status"] == str(status)
    return error


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unknown_paths_are_404_for_every_method(db, method):
    """Was Django's HTML CSRF 403 (the catch-all route was not CSRF-exempt)."""
    client = Client(enforce_csrf_checks=True)
    _error(getattr(client, method)("/api/v1/connections/not-a-uuid/check"), 404)


def test_options_on_the_docs_page(db):
    """Was a 500: OPTIONS metadata went through the docs page's HTML renderer."""
    _error(Client().options("/api/v1/docs"), 405)
    _error(Client().options("/api/v1/schema"), 405)


def test_malformed_relationship_id_is_422(api):
    """Was a 500: Django's ValidationError of the UUID field escaped the exception handler."""
    body = {"data": {"type": "syncs", "attributes": {"name": "x"},
                     "relationships": {"connection": {"data": {"type": "connections",
                                                               "id": [None, None]}}}}}
    response = api.post("/api/v1/syncs", data=orjson.dumps(body), content_type=MEDIA_TYPE)
    _error(response, 422)


# --- what fuzzing found (fixed): regression tests ------------------------------------------

@pytest.mark.parametrize("url", ["/api/v1/sync-runs?included=sync.last_run",
                                 "/api/v1/syncs/runs?include=sync.last_run"])
def test_bug_derived_include_below_the_top_level(api, url):
    assert api.get(url).status_code == 200


@pytest.mark.parametrize("relationships", [{"connection": []}, {"connection": "x"}, []])
def test_bug_relationship_that_is_not_an_object(api, relationships):
    body = {"data": {"type": "syncs", "attributes": {"name": "x"},
                     "relationships": relationships}}
    response = api.post("/api/v1/syncs", data=orjson.dumps(body), content_type=MEDIA_TYPE)
    _error(response, 400)


@pytest.mark.parametrize("value,matches", [("0001-01-01T00:00:00%2B01:00", True),
                                           ("9999-12-31T23:59:59-01:00", False)])
def test_bug_datetime_filter_out_of_range(api, make_job, project, value, matches):
    """Was a 500, then a 400 although the schema documents any RFC 3339 date-time: an instant
    beyond the representable range compares as the range's end."""
    make_job(project)
    response = api.get(f"/api/v1/jobs?filter[created_at__gte]={value}")
    assert response.status_code == 200, response.content
    assert bool(orjson.loads(response.content)["data"]) is matches


def test_bug_datetime_filter_offset_beyond_postgres_range(api, make_job, project):
    make_job(project)
    response = api.get("/api/v1/jobs?filter[created_at__gte]=2026-01-01T00:00:00%2B18:00")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("value", ["0.5", "5.0", "1e3", "%C2%B2", "x"])
def test_bug_integer_filter_takes_only_integers(api, value):
    """`filter[retry_count__lte]=0.5` was accepted (the schema says integer)."""
    error = _error(api.get(f"/api/v1/jobs?filter[retry_count__lte]={value}"), 400)
    assert error["source"] == {"parameter": "filter[retry_count__lte]"}


@pytest.mark.parametrize("name", ["limit", "offset"])
def test_bug_unicode_digits(api, name):
    _error(api.get(f"/api/v1/syncs?{name}=%C2%B2"), 400)


def test_bug_unicode_digits_in_download(api, project, media_storage):
    export = _successful_export(project)
    _error(api.get(f"/api/v1/exports/{export.pk}/download?file=%C2%B2"), 400)


@pytest.mark.parametrize("query", ["page[number]=99999999999999999999",
                                   "offset=99999999999999999999"])
def test_bug_huge_page_number(api, query):
    response = api.get(f"/api/v1/syncs?{query}")
    assert response.status_code in (200, 400), response.status_code


def test_bug_long_sync_slug(api, project):
    from syncs import services as syncs

    config = {"base_url": "http://127.0.0.1:9/", "auth": {"type": "none"},
              "streams": [{"name": "orders", "path": "/orders", "primary_key": ["id"]}]}
    connection_ = syncs.create_connection(project, provider="http_api", name="shop",
                                          config=config)
    body = {"data": {"type": "syncs",
                     "attributes": {"name": "long", "slug": "s" * 255, "entities": ["orders"]},
                     "relationships": {"connection": {"data": {"type": "connections",
                                                               "id": str(connection_.pk)}}}}}
    response = api.post("/api/v1/syncs", data=orjson.dumps(body), content_type=MEDIA_TYPE)
    assert response.status_code in (201, 422), response.status_code
