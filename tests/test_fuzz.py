"""Fuzzing every operation of the OpenAPI schema with schemathesis, against a live server.

``test_api_conforms_to_its_schema`` loads the schema from the server itself
(``/api/v1/schema``) and runs schemathesis' engine as its CLI does (``st run --checks all``),
with a write-scope key of a seeded project:

- phases: the documented examples, the coverage phase (boundary and invalid values of every
  parameter, methods the schema does not list), ``FUZZ_MAX_EXAMPLES`` generated requests per
  operation (valid and invalid ones), then stateful scenarios that follow the schema's links
  (create a connection → create a sync of it → trigger → read the run → cancel / retry;
  start an export → read it → download), so detail endpoints get real ids; generated
  documents rarely make a sync, so a lifecycle scenario (``tests/fuzz_lifecycle.py``) builds
  valid ones from the published provider catalog, mixed with hostile variants, and the test
  asserts it reached create-sync, trigger, runs, cancel/retry, archive and delete each
  ``FUZZ_LIFECYCLE_FLOOR`` times at least;
- checks: all of schemathesis' (no 5xx; status codes, headers, content types and bodies as
  documented; schema-invalid requests rejected, schema-valid ones accepted; 405 with ``Allow``
  for undocumented methods; ...) plus ours: every 4xx is a JSON:API error document.

Path ids are also drawn from seeded resources (jobs, connections, syncs, runs, exports, another
project's job) so requests reach real objects, not only 404s. Three engine runs (examples and
fuzzing; coverage; stateful) and the lifecycle scenario, each stopping at its share of
``FUZZ_BUDGET_SECONDS`` (270 s in all by default): seeded by ``FUZZ_SEED``, though how far
a run gets depends on the machine's speed. ``FUZZ_DETAILS=1`` with ``pytest -s`` prints what
refused each operation's requests.
The server may only reach loopback addresses meanwhile (a connection check of a fuzzed config
must not go out).

Where the server rightly answers what the schema cannot express, the schema itself says so
(``DIFFERENCES``), and ``test_documented_differences_are_in_the_schema`` checks it does. The
other tests pin what fuzzing found, each fixed: regression tests.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import orjson
import pytest
import schemathesis
from django.test import Client
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.engine import events, from_schema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from syncservice.jsonapi import MEDIA_TYPE
from tests.fuzz_lifecycle import Lifecycle, run_lifecycle

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "8"))
BUDGET_SECONDS = float(os.environ.get("FUZZ_BUDGET_SECONDS", "270"))
SEED = int(os.environ.get("FUZZ_SEED", "20261206"))
# The documented examples name this connection; the fuzzer swaps in a seeded one.
PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000"
# Statuses any operation may answer whatever the request, documented on every operation:
# the body over the limit (413), the request line over the HTTP server's limit (414).
TRANSPORT_STATUSES = ["413", "414"]


@dataclass(frozen=True)
class Difference:
    """Where the server rightly answers what a schemathesis check does not expect, for a
    reason the schema states (``stated_by``'s operation contains ``reason``)."""

    operations: tuple[str, ...]
    checks: dict
    stated_by: str
    reason: str


DIFFERENCES = [
    # DELETE archives a sync: reading it afterwards is not a use after free.
    Difference(("syncs_retrieve", "syncs_partial_update", "syncs_trigger"),
               {"use_after_free": {"enabled": False}}, "syncs_destroy",
               "Deleting a sync archives it: it stays readable"),
    # The runs of an archived sync stay readable too (as above); and parameters of two
    # pagination families in one request are a 400 (OpenAPI 3.0 cannot state exclusions).
    Difference(("syncs_sync_pk_runs_list", "syncs_runs_list", "sync_runs_list"),
               {"use_after_free": {"enabled": False},
                "positive_data_acceptance": {"expected-statuses": [
                    "2xx", "3xx", "400", "401", "403", "404", "409", "429",
                    *TRANSPORT_STATUSES]}},
               "sync_runs_list", "parameters of both in one request are a 400"),
    Difference(("syncs_list",), {"positive_data_acceptance": {"expected-statuses": [
        "2xx", "3xx", "400", "401", "403", "404", "409", "429", *TRANSPORT_STATUSES]}},
        "syncs_list", "parameters of both in one request are a 400"),
    # A sync's options are those of its connection's provider, known only by the server.
    Difference(("syncs_create", "syncs_partial_update"), {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429",
                              *TRANSPORT_STATUSES]}},
        "syncs_create", "another provider's options are a 422"),
    # A connection's provider is fixed once created.
    Difference(("connections_partial_update",), {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429",
                              *TRANSPORT_STATUSES]}},
        "connections_partial_update", "A connection's `provider` never changes"),
    # How many files an export has is known once it ran.
    Difference(("exports_download",), {"positive_data_acceptance": {"expected-statuses": [
        "2xx", "3xx", "400", "401", "403", "404", "409", "410", "429", *TRANSPORT_STATUSES]}},
        "exports_download", "A `file` number past the export's last file is a 400"),
    # Which resource types and fields exist depends on the project's syncs (tables).
    Difference(("exports_export", "exports_create"), {"positive_data_acceptance": {
        "expected-statuses": [
            "2xx", "401", "403", "404", "409", "422", "429", *TRANSPORT_STATUSES]}},
        "exports_export", "which ones exist depends on the project"),
    # Cursors are opaque: only the collection's own links carry valid ones.
    Difference(("projects_list", "jobs_list", "exports_list", "connections_list", "syncs_list",
                "sync_runs_list", "syncs_runs_list", "syncs_sync_pk_runs_list", "events_list",
                "jobs_subject_pk_events_list", "exports_subject_pk_events_list",
                "sync_runs_subject_pk_events_list", "syncs_runs_subject_pk_events_list"),
               {"positive_data_acceptance": {"expected-statuses": [
                   "2xx", "400", "401", "403", "404", "409", "429", *TRANSPORT_STATUSES]}},
               "jobs_list", "a cursor made up, or made for another sort, is a 400"),
    # Each atomic operation is checked by its type's own endpoint; lids name earlier adds.
    Difference(("operations",), {"positive_data_acceptance": {"expected-statuses": [
        "2xx", "400", "401", "403", "404", "409", "422", "429", *TRANSPORT_STATUSES]}},
        "operations", "A `lid` must name a resource added earlier in the same request"),
    # A binding's entity and options are its sync's provider's.
    Difference(("table_bindings_create", "table_bindings_partial_update"),
               {"positive_data_acceptance": {"expected-statuses": [
                   "2xx", "401", "403", "404", "409", "422", "429", *TRANSPORT_STATUSES]}},
               "table_bindings_create", "another entity is a 422"),
]


HEAVY_DOCUMENTS = ("connections_create", "connections_partial_update", "syncs_create",
                   "syncs_partial_update", "exports_export", "exports_create")


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


@pytest.fixture
def unthrottled(monkeypatch):
    """The fuzzer sends thousands of requests a minute with one key."""
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"api_key": "1000000/min"})


# --- seeded data ---------------------------------------------------------------------------------

@dataclass
class Seeded:
    key: str
    ids: dict[str, list[str]]
    calls: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))


def _run_job_inline(job_id) -> None:
    from jobs.claiming import claim_by_id
    from jobs.execution import execute

    job = claim_by_id(job_id, "fuzz-seed")
    assert job is not None
    execute(job, "fuzz-seed")


def _finish_exports() -> None:
    """Run the pending exports' jobs, as a worker would (a failing one fails)."""
    from exports.models import Export

    for export in Export.objects.filter(status="pending").exclude(job=None):
        try:
            _run_job_inline(export.job_id)
        except Exception:  # noqa: BLE001 - a fuzzed export may fail: that is its outcome
            pass


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


# --- our check: every 4xx is a JSON:API error document -------------------------------------------

@schemathesis.check
def jsonapi_error_document(ctx, response, case):
    """Every 4xx but the HTTP server's own 414 is a JSON:API error document of that
    status."""
    if not 400 <= response.status_code < 500 or response.status_code == 414:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith(MEDIA_TYPE), f"4xx with Content-Type {content_type!r}"
    document = orjson.loads(response.content)
    errors = document.get("errors") if isinstance(document, dict) else None
    assert isinstance(errors, list) and errors, f"4xx without errors: {document!r}"
    assert "data" not in document
    for error in errors:
        assert error.get("status") == str(response.status_code), error
        for member in ("code", "title", "detail"):
            assert isinstance(error.get(member), str), (member, error)
    return True


LIFECYCLE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                    response_headers_conformance, response_schema_conformance,
                    jsonapi_error_document]
# The lifecycle scenario's share of the budget; the operations it must reach with a 2xx, and
# how often at least.
LIFECYCLE_SHARE = 0.2
LIFECYCLE_STEPS = ("connections_create", "syncs_create", "syncs_trigger",
                   "syncs_sync_pk_runs_list", "syncs_runs_cancel", "syncs_runs_retry",
                   "syncs_destroy", "connections_destroy")
LIFECYCLE_FLOOR = int(os.environ.get("FUZZ_LIFECYCLE_FLOOR", "5"))


# --- the schema, as the live server serves it ----------------------------------------------------

def load_schema(live_server, seeded: Seeded, phases: dict, max_time: float):
    expected_valid = ["2xx", "3xx", "401", "403", "404", "409", "429", *TRANSPORT_STATUSES]
    expected_invalid = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428",
                        "429", *TRANSPORT_STATUSES]
    checks = {"enabled": True,
              "positive_data_acceptance": {"expected-statuses": expected_valid},
              "negative_data_rejection": {"expected-statuses": expected_invalid}}
    operations = [{"include-operation-id": operation_id, "checks": difference.checks}
                  for difference in DIFFERENCES for operation_id in difference.operations]
    # The coverage phase enumerates every boundary of every member: for the documents of
    # structured attributes (per-provider forms) that is thousands of cases per operation.
    # Their bodies are fuzzed by the other phases; their paths' parameters and methods are
    # covered through the other operations of the same paths.
    operations += [{"include-operation-id": operation_id, "phases": {"coverage": {
        "enabled": False}}} for operation_id in HEAVY_DOCUMENTS]
    data = {"base-url": f"{live_server.url}/", "seed": SEED, "workers": 1,
            "max-time": max(int(max_time), 1), "headers": {"X-API-Key": seeded.key},
            # No NUL characters: no attribute takes one (documented with 422), and the
            # free-form members (metadata, options) cannot say so in their schemas.
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none",
                           "with-security-parameters": False, "allow-x00": False},
            "checks": checks, "phases": phases, "operations": operations}
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


@pytest.fixture
def prepared_calls(seeded):
    """``before_call`` is a global hook in schemathesis: registered for this test only."""
    from schemathesis import hooks

    @schemathesis.hook
    def before_call(context, case, kwargs):
        _prepare(case, seeded)

    yield
    hooks.unregister(before_call)


def _prepare(case, seeded: Seeded) -> None:
    """A PATCH document carries the id of its path; the examples' placeholder connection
    becomes a seeded one."""
    body = case.body
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return
    if case.method.upper() == "PATCH" and data.get("id") == PLACEHOLDER_ID:
        data["id"] = str((case.path_parameters or {}).get("id"))
    relationships = data.get("relationships")
    linkage = relationships.get("connection") if isinstance(relationships, dict) else None
    if isinstance(linkage, dict) and isinstance(linkage.get("data"), dict) \
            and linkage["data"].get("id") == PLACEHOLDER_ID:
        linkage["data"]["id"] = seeded.ids["connections"][0]


@dataclass
class Outcome:
    failures: list[str] = field(default_factory=list)
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    scenarios: Counter = field(default_factory=Counter)
    # label -> status -> the first error details (what refused the requests)
    details: dict[str, dict[int, Counter]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Counter)))
    stop_reason: str = ""


def run_engine(schema) -> Outcome:
    outcome = Outcome()
    for event in from_schema(schema).execute():
        if isinstance(event, (events.ScenarioFinished, events.FuzzScenarioFinished)):
            phase = getattr(event, "phase", "fuzzing")
            outcome.scenarios[str(getattr(phase, "value", phase))] += 1
            recorder = event.recorder
            for case_id, interaction in recorder.interactions.items():
                response = interaction.response
                if response is not None:
                    case = recorder.cases[case_id].value
                    label = f"{case.method.upper()} {case.operation.path}"
                    outcome.statuses[label][response.status_code] += 1
                    if 400 <= response.status_code < 500 and response.status_code != 401:
                        outcome.details[label][response.status_code][_first_detail(response)] += 1
            for case_id, nodes in recorder.checks.items():
                for node in nodes:
                    info = node.failure_info
                    if info is None:
                        continue
                    response = recorder.find_response(case_id=case_id)
                    answer = "" if response is None else \
                        f"{response.status_code} {response.content[:300]!r}\n"
                    outcome.failures.append(
                        f"[{recorder.label}] {node.name}: {info.failure.title}\n"
                        f"{info.failure.message}\n{answer}{info.code_sample[:1500]}")
        elif isinstance(event, events.NonFatalError):
            outcome.failures.append(f"error in {event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            raise event.exception
        elif isinstance(event, events.EngineFinished):
            outcome.stop_reason = str(event.stop_reason)
            outcome.failures += [f"after the run: {failure.title}\n{failure.message}"
                                 for failure in event.failures]
    return outcome


def _first_detail(response) -> str:
    try:
        return str(orjson.loads(response.content)["errors"][0]["detail"])[:90]
    except Exception:  # noqa: BLE001 - a summary line, whatever the body
        return "?"


def _report(name: str, outcome: Outcome, elapsed: float) -> None:
    """What the run did, per operation (shown with ``pytest -s``)."""
    calls = sum(sum(c.values()) for c in outcome.statuses.values())
    print(f"\nfuzz {name}: {calls} calls in {elapsed:.0f}s, scenarios {dict(outcome.scenarios)},"
          f" stopped: {outcome.stop_reason}")
    for label, statuses in sorted(outcome.statuses.items()):
        print(f"  {label}: {dict(sorted(statuses.items()))}")
        if os.environ.get("FUZZ_DETAILS"):
            for status, details in sorted(outcome.details[label].items()):
                for detail, count in details.most_common(3):
                    print(f"      {status} x{count}: {detail}")


def _report_lifecycle(lifecycle: Lifecycle, elapsed: float) -> None:
    calls = sum(sum(c.values()) for c in lifecycle.calls.values())
    print(f"\nfuzz lifecycle: {calls} calls in {elapsed:.0f}s, {lifecycle.examples} scenarios")
    for operation_id, statuses in sorted(lifecycle.calls.items()):
        print(f"  {operation_id}: {dict(sorted(statuses.items()))}")
        if os.environ.get("FUZZ_DETAILS"):
            for (status, detail), count in lifecycle.details[operation_id].most_common(4):
                print(f"      {status} x{count}: {detail}")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_api_conforms_to_its_schema(live_server, seeded, loopback_only, unthrottled,
                                    prepared_calls):
    on, off = {"enabled": True}, {"enabled": False}
    # Each run gets its share of the budget (an unfinished run stops at its share).
    runs = {
        # The documented examples, then generated cases (valid and invalid).
        "examples+fuzzing": ({"examples": on, "coverage": off, "fuzzing": on,
                              "stateful": off}, 0.3),
        # Every boundary value of every parameter and member, and undocumented methods.
        "coverage": ({"examples": off, "coverage": on, "fuzzing": off, "stateful": off}, 0.3),
        # Scenarios along the links, with the ids the server hands out.
        "stateful": ({"examples": off, "coverage": off, "fuzzing": off,
                      "stateful": {"enabled": True, "max-steps": 8}}, 0.2),
    }
    outcomes = {}
    for name, (phases, share) in runs.items():
        _finish_exports()  # no worker runs here: one pending export would 409 every other
        started = time.monotonic()
        outcomes[name] = run_engine(load_schema(live_server, seeded, phases,
                                                BUDGET_SECONDS * share))
        _report(name, outcomes[name], time.monotonic() - started)
    # The lifecycle scenario: connection → sync → trigger → runs → archive → delete.
    started = time.monotonic()
    lifecycle = run_lifecycle(
        load_schema(live_server, seeded, runs["stateful"][0], 1), f"{live_server.url}/",
        seeded.key, LIFECYCLE_CHECKS, seconds=BUDGET_SECONDS * LIFECYCLE_SHARE,
        fuzz_seed=SEED)
    _report_lifecycle(lifecycle, time.monotonic() - started)
    failures = [failure for outcome in outcomes.values() for failure in outcome.failures]
    failures += lifecycle.failures
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures[:30])
    for name, outcome in outcomes.items():
        assert outcome.statuses, f"{name}: no request reached the server"
    stateful = outcomes["stateful"]
    assert stateful.scenarios["stateful"], "no stateful scenario ran"
    # The scenarios created resources and went on from them. (How far each goes — sync,
    # trigger, run, cancel/retry; export, download — varies with the time the run gets;
    # the report above says, with `pytest -s`.)
    reached = {label for label, statuses in stateful.statuses.items()
               if any(200 <= code < 300 for code in statuses)}
    assert {"POST /api/v1/connections", "GET /api/v1/connections/{id}"} <= reached, \
        sorted(reached)
    # The lifecycle went the whole way, many times (the floor is a fraction of what a run
    # reaches on a slow machine: a scenario that stops getting past a step fails here).
    for operation_id in LIFECYCLE_STEPS:
        assert lifecycle.succeeded(operation_id) >= LIFECYCLE_FLOOR, \
            (operation_id, dict(lifecycle.calls[operation_id]))


def test_documented_differences_are_in_the_schema(client, db):
    """Each exception of ``DIFFERENCES`` is stated by the operation it names."""
    schema = orjson.loads(client.get("/api/v1/schema?format=json").content)
    operations = {operation["operationId"]: operation for item in schema["paths"].values()
                  for operation in item.values()}
    for difference in DIFFERENCES:
        assert set(difference.operations) <= set(operations), difference
        text = operations[difference.stated_by].get("description", "")
        assert " ".join(difference.reason.split()) in " ".join(text.split()), difference


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


def test_bug_huge_number_in_stored_metadata(api, project, media_storage):
    """Was a 500 on PostgreSQL for every read of the export: orjson reads
    -90247722733945324731921256677376 as a float, jsonb hands it back as an int beyond 64
    bits, which orjson could not encode."""
    from exports.models import Export

    body = {"data": {"type": "exports", "attributes": {
        "resource_type": "jobs", "metadata": {"n": -90247722733945324731921256677376}}}}
    response = api.post("/api/v1/exports/export", data=json.dumps(body),
                        content_type=MEDIA_TYPE)
    assert response.status_code == 202, response.content
    export = Export.objects.get()
    Export.objects.filter(pk=export.pk).update(metadata={"n": -(10**32), "m": 2**70})
    for url in ("/api/v1/exports", f"/api/v1/exports/{export.pk}"):
        response = api.get(url)
        assert response.status_code == 200, response.content
        document = orjson.loads(response.content)
        resource = document["data"][0] if isinstance(document["data"], list) \
            else document["data"]
        assert resource["attributes"]["metadata"] == {"n": -1e32, "m": float(2**70)}
