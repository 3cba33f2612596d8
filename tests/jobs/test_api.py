"""The jobs resource: index filters exactly as the reference lists them, show, delete, signal."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import Job
from tests.conftest import body, error_of

NOW = timezone.now().replace(microsecond=0)


def ids(response) -> set[str]:
    return {item["id"] for item in body(response)["data"]}


@pytest.fixture
def jobs(project, make_job):
    """Five jobs of ``project`` with distinct values in every filterable field."""
    rows = [
        make_job(project, "exports.build", priority=0, status="pending", progress=0,
                 retry_count=0, unicity="u-1", scheduled_at=NOW - timedelta(hours=4)),
        make_job(project, "exports.build", priority=5, status="running", progress=40,
                 retry_count=1, scheduled_at=NOW - timedelta(hours=3)),
        make_job(project, "syncs.run", priority=10, status="failed", progress=10,
                 retry_count=3, error="heartbeat_timeout", scheduled_at=NOW - timedelta(hours=2)),
        make_job(project, "syncs.run", priority=-5, status="succeeded", progress=100,
                 retry_count=0, scheduled_at=NOW - timedelta(hours=1)),
        make_job(project, "jobs.noop", priority=1, status="cancelled", progress=0,
                 retry_count=2, scheduled_at=NOW + timedelta(hours=1)),
    ]
    # Distinct, known timestamps for created_at / updated_at filters.
    for index, job in enumerate(rows):
        stamp = NOW - timedelta(days=10 - index)
        Job.objects.filter(pk=job.pk).update(created_at=stamp, updated_at=stamp + timedelta(
            minutes=30))
    return [Job.objects.get(pk=job.pk) for job in rows]


def test_index_lists_the_projects_jobs_newest_first(api, jobs, other_project, make_job):
    make_job(other_project)
    document = body(api.get("/api/v1/jobs"))
    assert [item["id"] for item in document["data"]] == [str(j.pk) for j in reversed(jobs)]
    first = document["data"][0]
    assert first["type"] == "jobs"
    assert first["relationships"]["project"]["data"] == {"type": "projects",
                                                         "id": str(jobs[0].project_id)}
    assert first["relationships"]["project"]["links"]["related"].endswith(
        f"/api/v1/projects/{jobs[0].project_id}")
    assert first["links"]["self"].endswith(f"/api/v1/jobs/{first['id']}")


def iso(value) -> str:
    return value.isoformat().replace("+", "%2B")


# (filter, value builder, indexes of `jobs` that match) — every filter of the reference, each
# with a positive and a negative case.
FILTER_CASES = [
    ("id", lambda j: str(j[2].pk), {2}),
    ("id", lambda j: str(uuid.uuid4()), set()),
    ("job_class", lambda j: "syncs.run", {2, 3}),
    ("job_class", lambda j: "nothing", set()),
    ("priority", lambda j: "5", {1}),
    ("priority", lambda j: "7", set()),
    ("status", lambda j: "failed", {2}),
    ("status", lambda j: "pending", {0}),
    ("progress", lambda j: "40", {1}),
    ("progress", lambda j: "41", set()),
    ("retry_count", lambda j: "3", {2}),
    ("retry_count", lambda j: "9", set()),
    ("error", lambda j: "heartbeat_timeout", {2}),
    ("error", lambda j: "boom", set()),
    ("unicity", lambda j: "u-1", {0}),
    ("unicity", lambda j: "u-2", set()),
    ("scheduled_at", lambda j: iso(j[3].scheduled_at), {3}),
    ("scheduled_at", lambda j: iso(NOW + timedelta(days=9)), set()),
    ("created_at", lambda j: iso(j[1].created_at), {1}),
    ("created_at", lambda j: iso(NOW), set()),
    ("updated_at", lambda j: iso(j[4].updated_at), {4}),
    ("updated_at", lambda j: iso(NOW), set()),
    ("id__in", lambda j: f"{j[0].pk},{j[4].pk}", {0, 4}),
    ("id__in", lambda j: f"{uuid.uuid4()},{uuid.uuid4()}", set()),
    ("job_class__in", lambda j: "jobs.noop,exports.build", {0, 1, 4}),
    ("job_class__in", lambda j: "a,b", set()),
    ("priority__gte", lambda j: "5", {1, 2}),
    ("priority__gte", lambda j: "11", set()),
    ("priority__lte", lambda j: "0", {0, 3}),
    ("priority__lte", lambda j: "-6", set()),
    ("status__in", lambda j: "running,succeeded", {1, 3}),
    ("status__in", lambda j: "cancelled", {4}),
    ("retry_count__gte", lambda j: "2", {2, 4}),
    ("retry_count__gte", lambda j: "4", set()),
    ("retry_count__lte", lambda j: "0", {0, 3}),
    ("retry_count__lte", lambda j: "-1", set()),
    ("scheduled_at__gte", lambda j: iso(NOW - timedelta(hours=1)), {3, 4}),
    ("scheduled_at__gte", lambda j: iso(NOW + timedelta(hours=2)), set()),
    ("scheduled_at__lte", lambda j: iso(NOW - timedelta(hours=3)), {0, 1}),
    ("scheduled_at__lte", lambda j: iso(NOW - timedelta(hours=5)), set()),
    ("created_at__gte", lambda j: iso(j[3].created_at), {3, 4}),
    ("created_at__gte", lambda j: iso(NOW), set()),
    ("created_at__lte", lambda j: iso(j[0].created_at), {0}),
    ("created_at__lte", lambda j: iso(NOW - timedelta(days=11)), set()),
    ("updated_at__gte", lambda j: iso(j[4].updated_at), {4}),
    ("updated_at__gte", lambda j: iso(NOW), set()),
    ("updated_at__lte", lambda j: iso(j[1].updated_at), {0, 1}),
    ("updated_at__lte", lambda j: iso(NOW - timedelta(days=11)), set()),
]


@pytest.mark.parametrize("name,value,expected", FILTER_CASES,
                         ids=[f"{c[0]}-{'hit' if c[2] else 'miss'}-{i}"
                              for i, c in enumerate(FILTER_CASES)])
def test_every_reference_filter(api, jobs, name, value, expected):
    response = api.get(f"/api/v1/jobs?filter[{name}]={value(jobs)}")
    assert ids(response) == {str(jobs[i].pk) for i in expected}


def test_every_reference_filter_is_covered():
    reference = {"id", "job_class", "priority", "status", "progress", "retry_count", "error",
                 "unicity", "scheduled_at", "created_at", "updated_at", "id__in",
                 "job_class__in", "priority__gte", "priority__lte", "status__in",
                 "retry_count__gte", "retry_count__lte", "scheduled_at__gte",
                 "scheduled_at__lte", "created_at__gte", "created_at__lte", "updated_at__gte",
                 "updated_at__lte"}
    from jobs.filters import JobFilterSet

    assert set(JobFilterSet.base_filters) == reference
    assert {case[0] for case in FILTER_CASES} == reference


@pytest.mark.parametrize("parameter,value", [
    ("filter[status]", "exploded"), ("filter[priority__gte]", "high"),
    ("filter[scheduled_at__lte]", "tomorrow"), ("filter[id__in]", "1,2"),
    ("filter[progress__gte]", "5"), ("filter[project_id]", "x"), ("sort", "payload"),
])
def test_bad_filters_and_sorts_are_400(api, jobs, parameter, value):
    assert error_of(api.get(f"/api/v1/jobs?{parameter}={value}"), 400)["source"] == {
        "parameter": parameter}


def test_sort_by_priority(api, jobs):
    document = body(api.get("/api/v1/jobs?sort=-priority"))
    assert [item["attributes"]["priority"] for item in document["data"]] == [10, 5, 1, 0, -5]


def test_included_project_and_sparse_fields(api, jobs, project):
    document = body(api.get("/api/v1/jobs?included=project&fields=status,project"
                            "&fields[projects]=name"))
    assert document["included"] == [{
        "type": "projects", "id": str(project.pk), "attributes": {"name": "acme"},
        "links": {"self": f"http://testserver/api/v1/projects/{project.pk}"}}]
    assert all(set(item["attributes"]) == {"status"} for item in document["data"])


def test_show(api, jobs):
    job = jobs[2]
    document = body(api.get(f"/api/v1/jobs/{job.pk}?included=project"))
    assert document["data"]["attributes"]["error"] == "heartbeat_timeout"
    assert document["included"][0]["type"] == "projects"


def test_other_projects_jobs_are_invisible(other_api, jobs):
    error_of(other_api.get(f"/api/v1/jobs/{jobs[0].pk}"), 404)
    error_of(other_api.delete(f"/api/v1/jobs/{jobs[0].pk}"), 404)
    error_of(other_api.send_document("post", f"/api/v1/jobs/{jobs[0].pk}/signal",
                                     "job-signals", {"signal": "cancel"}), 404)
    assert body(other_api.get("/api/v1/jobs"))["data"] == []
    assert Job.objects.get(pk=jobs[0].pk).status == "pending"


def test_constant_queries(api, project, make_job, django_assert_max_num_queries):
    Job.objects.bulk_create(Job(project=project, job_class="jobs.noop") for _ in range(1000))
    with django_assert_max_num_queries(6) as small:
        assert len(body(api.get("/api/v1/jobs?page[size]=1&included=project"))["data"]) == 1
    with django_assert_max_num_queries(len(small.captured_queries)):
        document = body(api.get("/api/v1/jobs?page[size]=1000&included=project&count=true"))
        assert len(document["data"]) == 1000


# --- delete -------------------------------------------------------------------------------

def test_delete_pending_job_removes_it(api, jobs):
    response = api.delete(f"/api/v1/jobs/{jobs[0].pk}")
    assert response.status_code == 204 and response.content == b""
    assert not Job.objects.filter(pk=jobs[0].pk).exists()


def test_delete_running_job_is_409(api, jobs):
    error_of(api.delete(f"/api/v1/jobs/{jobs[1].pk}"), 409)
    assert Job.objects.filter(pk=jobs[1].pk).exists()


def test_delete_needs_write_scope(make_client, make_key, project, jobs):
    client = make_client(make_key(project, scope="read"))
    error_of(client.delete(f"/api/v1/jobs/{jobs[0].pk}"), 403)
    assert Job.objects.filter(pk=jobs[0].pk).exists()


# --- signals --------------------------------------------------------------------------------

def send(api, job, signal):
    return api.send_document("post", f"/api/v1/jobs/{job.pk}/signal", "job-signals",
                             {"signal": signal})


def test_cancel_pending_job_at_once(api, jobs):
    document = body(send(api, jobs[0], "cancel"))
    assert document["data"]["type"] == "jobs"
    assert document["data"]["attributes"]["status"] == "cancelled"
    assert Job.objects.get(pk=jobs[0].pk).finished_at is not None


def test_cancel_running_job_is_cooperative(api, jobs):
    document = body(send(api, jobs[1], "cancel"))
    assert document["data"]["attributes"]["status"] == "running"
    assert document["data"]["attributes"]["cancel_requested_at"] is not None


def test_retry_failed_and_cancelled_jobs(api, jobs):
    for job in (jobs[2], jobs[4]):
        attributes = body(send(api, job, "retry"))["data"]["attributes"]
        assert attributes["status"] == "pending"
        assert attributes["retry_count"] == 0 and attributes["finished_at"] is None


def test_run_now_moves_scheduled_at(api, project, make_job):
    job = make_job(project, scheduled_at=timezone.now() + timedelta(days=1))
    attributes = body(send(api, job, "run_now"))["data"]["attributes"]
    assert Job.objects.get(pk=job.pk).scheduled_at <= timezone.now()
    assert attributes["status"] == "pending"


# Every (status, signal) pair that the state machine refuses → 409, and nothing changes.
INVALID = [
    ("cancel", "succeeded"), ("cancel", "failed"), ("cancel", "cancelled"),
    ("retry", "pending"), ("retry", "running"), ("retry", "succeeded"),
    ("run_now", "running"), ("run_now", "succeeded"), ("run_now", "failed"),
    ("run_now", "cancelled"),
]


@pytest.mark.parametrize("signal,status", INVALID)
def test_invalid_transitions_are_409(api, project, make_job, signal, status):
    job = make_job(project, status=status)
    before = Job.objects.filter(pk=job.pk).values().get()
    error_of(send(api, job, signal), 409)
    assert Job.objects.filter(pk=job.pk).values().get() == before


def test_retry_refused_while_another_job_holds_the_unicity_key(api, project, make_job):
    make_job(project, unicity="key", status="pending")
    failed = make_job(project, unicity="key", status="failed")
    error_of(send(api, failed, "retry"), 409)


@pytest.mark.parametrize("attributes", [{"signal": "explode"}, {}, {"signal": None}])
def test_unknown_or_missing_signal_is_422(api, jobs, attributes):
    response = api.send_document("post", f"/api/v1/jobs/{jobs[0].pk}/signal", "job-signals",
                                 attributes)
    assert error_of(response, 422)["source"] == {"pointer": "/data/attributes/signal"}


def test_signal_with_wrong_type_is_409(api, jobs):
    error_of(api.send_document("post", f"/api/v1/jobs/{jobs[0].pk}/signal", "jobs",
                               {"signal": "cancel"}), 409)


@pytest.mark.parametrize("payload", [b"", b"not json", b"[]", b'{"data": []}',
                                     b'{"data": {"attributes": {"signal": "cancel"}}}'])
def test_malformed_signal_documents_are_400(api, jobs, payload):
    response = api.post(f"/api/v1/jobs/{jobs[0].pk}/signal", data=payload,
                        content_type="application/vnd.api+json")
    error_of(response, 400)


def test_signal_with_plain_json_is_415(api, jobs):
    response = api.post(f"/api/v1/jobs/{jobs[0].pk}/signal", data=b'{}',
                        content_type="application/json")
    error_of(response, 415)


def test_signal_with_media_type_parameters_is_415(api, jobs):
    response = api.post(f"/api/v1/jobs/{jobs[0].pk}/signal",
                        data=b'{"data": {"type": "job-signals", "attributes": {}}}',
                        content_type="application/vnd.api+json; charset=utf-8")
    error_of(response, 415)


def test_signal_needs_write_scope(make_client, make_key, project, jobs):
    client = make_client(make_key(project, scope="read"))
    error_of(send(client, jobs[0], "cancel"), 403)


# --- error details: what failed, never where in the server's code ------------------------------

@pytest.mark.parametrize("fast_path", [True, False])
def test_error_details_never_carry_a_traceback(api, project, run_job, settings, fast_path):
    """A failed job's error_details say what failed (reason, type, message); its traceback,
    with the server's file paths, stays in the database for the admin. The JSON:API fast read
    path serves the same."""
    from jobs import services

    settings.JSONAPI_FAST_PATH = fast_path
    job = run_job(services.enqueue("jobs.fail", {"message": "boom"}, project=project).pk)
    assert job.status == "failed" and "Traceback" in job.error_traceback
    # A row written before the traceback had a column of its own (or by an older worker).
    legacy = Job.objects.create(project=project, job_class="jobs.noop", status="failed",
                                error="ValueError: x", error_details={
                                    "reason": "ValueError: x", "type": "builtins.ValueError",
                                    "message": "x", "traceback": 'File "/srv/app/x.py"',
                                    "internal": {"host": "db-1"}})
    for url in (f"/api/v1/jobs/{job.pk}", f"/api/v1/jobs/{legacy.pk}", "/api/v1/jobs",
                f"/api/v1/jobs?filter[id__in]={job.pk},{legacy.pk}&fields=error_details"):
        response = api.get(url)
        assert response.status_code == 200
        text = response.content.decode()
        assert "Traceback" not in text and "traceback" not in text, url
        assert ".py" not in text and "/srv/" not in text, url
    details = body(api.get(f"/api/v1/jobs/{job.pk}"))["data"]["attributes"]["error_details"]
    assert details == {"reason": "RuntimeError: boom", "type": "builtins.RuntimeError",
                       "message": "boom"}
    details = body(api.get(f"/api/v1/jobs/{legacy.pk}"))["data"]["attributes"]["error_details"]
    assert details == {"reason": "ValueError: x", "type": "builtins.ValueError", "message": "x"}


def test_error_details_of_a_heartbeat_timeout(api, project, make_job):
    stale = timezone.now() - timedelta(hours=1)
    job = make_job(project, status="running", worker_id="w-1", started_at=stale,
                   heartbeat_at=stale, max_retries=0)
    from jobs import reaping

    reaping.reap_stalled(timeout_seconds=60)
    details = body(api.get(f"/api/v1/jobs/{job.pk}"))["data"]["attributes"]["error_details"]
    assert details == {"reason": "heartbeat_timeout", "worker_id": "w-1",
                       "heartbeat_at": stale.isoformat()}


def test_the_schema_describes_error_details_and_started_at():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    attributes = schema["components"]["schemas"]["JobResource"]["properties"]["attributes"]
    details = attributes["properties"]["error_details"]
    assert details["type"] == "object" and details.get("nullable") is True
    assert set(details["properties"]) == {"reason", "type", "message", "worker_id",
                                          "heartbeat_at"}
    assert details["additionalProperties"] is False
    assert "traceback" in details["description"].lower()  # "Never a traceback."
    assert "claimed but not started" in attributes["properties"]["started_at"]["description"]
