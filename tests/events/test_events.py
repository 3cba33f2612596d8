"""Events: what runs, exports and jobs did, recorded with their state changes and read as
JSON:API (``/events``, ``/<subjects>/{id}/events``, ``include=events``), bounded by pruning."""

import threading
from datetime import timedelta

import orjson
import pytest
from django.utils import timezone

from exports import services as export_services
from exports.models import Export
from jobs import claiming, reaping
from jobs import services as job_services
from jobs.execution import execute
from jobs.models import Job
from jobs.periodic import registered_periodic_jobs
from jobs.worker import Worker
from syncs.models import SyncRun
from syncservice.events import services as events
from syncservice.events.models import Event
from tests.conftest import body, error_of

pytestmark = pytest.mark.usefixtures("media_storage")


def kinds(subject) -> list[str]:
    return list(events.events_of(subject.JSONAPIMeta.resource_name, [subject.pk])
                .values_list("kind", flat=True))


def send(api, url, type_, attributes=None):
    return api.post(url, data=orjson.dumps({"data": {"type": type_,
                                                     "attributes": attributes or {}}}),
                    content_type="application/vnd.api+json")


def trigger(api, sync) -> SyncRun:
    response = send(api, f"/api/v1/syncs/{sync['id']}/trigger", "sync-triggers",
                    {"run_mode": "incremental"})
    assert response.status_code == 202, response.content
    return SyncRun.objects.get(pk=body(response)["data"]["id"])


# --- sync runs -----------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_sync_runs_lifecycle_in_order_with_row_counts(api, make_sync, shop, settings):
    settings.EVENTS_PROGRESS_SECONDS = 0  # every batch: the fake shop sends 3 pages of orders
    # A page per write (pages read ahead would merge into fewer writes, as timing has it).
    settings.SYNCS_READ_AHEAD_ROWS = 3
    run = trigger(api, make_sync(entities=["orders", "customers"]))
    Worker(burst=True, poll_seconds=0.05).run()
    run.refresh_from_db()
    assert run.status == "succeeded", run.error

    document = body(api.get(f"/api/v1/sync-runs/{run.pk}/events"))
    timeline = [(e["attributes"]["kind"], e["attributes"]["data"]) for e in document["data"]]
    assert [kind for kind, _ in timeline] == [
        "created", "started",
        "entity_started", "entity_progress", "entity_progress", "entity_progress",
        "checkpoint_committed", "entity_finished",
        "entity_started", "entity_progress", "checkpoint_committed", "entity_finished",
        "succeeded"]
    created, started = timeline[0][1], timeline[1][1]
    assert (created["triggered_by"], created["attempt"]) == ("manual", 1)
    assert started["attempt"] == 1 and started["fence_token"] == run.fence_token >= 1
    assert started["job_id"] == str(run.job_id)
    progress = [data for kind, data in timeline if kind == "entity_progress"]
    assert [(p["entity"], p["rows_read"], p["rows_written"], p["cursor"]) for p in progress] == [
        ("orders", 3, 3, "2026-01-03T00:00:00Z"), ("orders", 6, 6, "2026-01-06T00:00:00Z"),
        ("orders", 7, 7, "2026-01-07T00:00:00Z"), ("customers", 3, 3, "2026-02-03T00:00:00Z")]
    finished = [data for kind, data in timeline if kind == "entity_finished"]
    assert [(f["entity"], f["status"], f["rows_written"]) for f in finished] == [
        ("orders", "succeeded", 7), ("customers", "succeeded", 3)]
    assert timeline[-1][1] == {"rows_read": 10, "rows_written": 10}
    assert document["data"][0]["attributes"]["subject_type"] == "sync-runs"
    assert document["data"][0]["attributes"]["message"] == "Created (manual, attempt 1)"


@pytest.mark.django_db(transaction=True)
def test_progress_events_are_bounded_per_task(api, make_sync, shop, settings):
    settings.EVENTS_PROGRESS_SECONDS = 3600
    run = trigger(api, make_sync())
    Worker(burst=True, poll_seconds=0.05).run()
    # Three batches, one progress event (the first); the final counts are on the end event.
    assert kinds(run).count("entity_progress") == 1
    finished = Event.objects.get(subject_id=run.pk, kind="entity_finished")
    assert finished.data["rows_written"] == 7


@pytest.mark.django_db(transaction=True)
def test_an_auto_resumed_runs_events(api, make_sync, shop):
    shop.gate = threading.Event()
    run = trigger(api, make_sync())
    job = claiming.claim_by_id(run.job_id, "dying-worker")
    thread = threading.Thread(target=lambda: execute(job, "dying-worker"))
    thread.start()
    assert shop.gate_reached.wait(10)
    shop.wait_page_one_committed(run.sync_id)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    reaping.reap_stalled(timeout_seconds=60)
    shop.gate.set()
    thread.join(10)
    run.refresh_from_db()
    resumed = SyncRun.objects.get(pk=run.next_attempt_run_id)
    shop.gate = None
    Worker(burst=True, poll_seconds=0.05).run()
    resumed.refresh_from_db()
    assert resumed.status == "succeeded"

    first = list(events.events_of("sync-runs", [run.pk]))
    assert [e.kind for e in first][:4] == ["created", "started", "entity_started",
                                           "entity_progress"]
    failed = next(e for e in first if e.kind == "failed")
    assert failed.data["reason"] == "heartbeat_timeout"
    resumed_event = next(e for e in first if e.kind == "resumed")
    assert resumed_event.data == {"reason": "heartbeat_timeout",
                                  "next_attempt_run_id": str(resumed.pk), "attempt": 2}
    assert "succeeded" not in [e.kind for e in first]  # the stale attempt claims nothing
    second = list(events.events_of("sync-runs", [resumed.pk]))
    assert second[0].kind == "created"
    assert (second[0].data["triggered_by"], second[0].data["previous_attempt_run_id"]) == (
        "auto_resume", str(run.pk))
    assert second[1].data["fence_token"] > first[1].data["fence_token"]
    started = next(e for e in second if e.kind == "entity_started")
    assert started.data["cursor"] == "2026-01-03T00:00:00Z"  # resumed from page 1's checkpoint
    assert second[-1].kind == "succeeded"
    # The reaped job says so too.
    assert "reaped" in kinds(Job.objects.get(pk=job.pk))


def test_cancel_and_manual_retry_of_a_run(api, make_sync, shop):
    run = trigger(api, make_sync())
    response = send(api, f"/api/v1/sync-runs/{run.pk}/cancel", "sync-run-cancels",
                    {"reason": "wrong day"})
    assert response.status_code == 200, response.content
    response = send(api, f"/api/v1/sync-runs/{run.pk}/retry", "sync-run-retries")
    assert response.status_code == 202, response.content
    retried = Event.objects.get(subject_id=run.pk, kind="retried")
    assert retried.data["next_attempt_run_id"] == body(response)["data"]["id"]
    assert kinds(run) == ["created", "cancelled", "retried"]
    assert Event.objects.get(subject_id=run.pk, kind="cancelled").data["reason"] == "wrong day"


# --- exports -------------------------------------------------------------------------------

def test_an_exports_events_including_expiry(api, run_job, settings):
    settings.EXPORTS_MAX_RECORDS_PER_FILE = 1
    response = send(api, "/api/v1/exports/export", "exports",
                    {"resource_type": "projects", "format": "csv"})
    export = Export.objects.get(pk=body(response)["data"]["id"])
    run_job(export.job_id)
    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(1))
    export_services.expire_exports()
    assert kinds(export) == ["created", "started", "file_published", "succeeded", "expired"]
    document = body(api.get(f"/api/v1/exports/{export.pk}?include=events"))
    linkage = document["data"]["relationships"]["events"]
    assert [item["type"] for item in linkage["data"]] == ["events"] * 5
    assert linkage["links"]["related"].endswith(f"/api/v1/exports/{export.pk}/events")
    included = {item["id"]: item["attributes"] for item in document["included"]}
    published = next(a for a in included.values() if a["kind"] == "file_published")
    assert published["data"]["index"] == 1 and published["data"]["records_count"] == 1


def test_a_failed_export_says_why(api, run_job, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(export_services._FileSink, "write", broken)
    response = send(api, "/api/v1/exports/export", "exports",
                    {"resource_type": "projects", "format": "csv"})
    export = Export.objects.get(pk=body(response)["data"]["id"])
    run_job(export.job_id)
    assert kinds(export) == ["created", "started", "failed"]
    assert Event.objects.get(subject_id=export.pk, kind="failed").data == {
        "reason": "OSError: disk full"}


# --- jobs ----------------------------------------------------------------------------------

def test_a_failed_jobs_retry_events(api, project, run_job):
    job = job_services.enqueue("jobs.fail", {"message": "nope"}, project=project,
                               max_retries=1)
    run_job(job.pk)
    Job.objects.filter(pk=job.pk).update(scheduled_at=timezone.now())
    run_job(job.pk)
    timeline = list(events.events_of("jobs", [job.pk]))
    assert [e.kind for e in timeline] == ["retried", "failed"]
    assert timeline[0].data["reason"] == "RuntimeError: nope"
    assert timeline[0].data["retry_count"] == 1
    assert timeline[1].data == {"reason": "RuntimeError: nope", "retry_count": 1,
                                "max_retries": 1}
    response = send(api, f"/api/v1/jobs/{job.pk}/signal", "job-signals", {"signal": "retry"})
    assert response.status_code == 200
    assert kinds(job)[-1] == "retried"
    document = body(api.get(f"/api/v1/jobs/{job.pk}/events?filter[kind]=retried"))
    assert [e["attributes"]["data"].get("manual") for e in document["data"]] == [None, True]


def test_successful_jobs_record_no_events(project, run_job):
    job = job_services.enqueue("jobs.noop", {}, project=project)
    run_job(job.pk)
    assert kinds(job) == []


# --- reading: filters, includes, query counts, errors --------------------------------------

@pytest.fixture
def timeline(project, other_project, make_job):
    job = make_job(project, status="failed")
    base = timezone.now() - timedelta(hours=1)
    made = []
    for index, kind in enumerate(["created", "started", "failed"]):
        event = events.record_for(job, kind, {"reason": "boom"} if kind == "failed" else {})
        Event.objects.filter(pk=event.pk).update(created_at=base + timedelta(minutes=index))
        made.append(event)
    events.record_for(make_job(other_project), "created")
    return job, made, base


def test_filters_by_kind_time_and_subject(api, timeline):
    job, made, base = timeline

    def ids(url):
        return [item["id"] for item in body(api.get(url))["data"]]

    assert ids("/api/v1/events") == [str(e.pk) for e in made]  # oldest first, own project
    assert ids("/api/v1/events?filter[kind]=failed") == [str(made[2].pk)]
    assert ids("/api/v1/events?filter[kind__in]=created,failed&sort=-created_at") == [
        str(made[2].pk), str(made[0].pk)]
    since = (base + timedelta(seconds=30)).isoformat()
    until = (base + timedelta(seconds=90)).isoformat()
    assert ids(f"/api/v1/events?filter[created_at__gte]={since}"
               f"&filter[created_at__lte]={until}".replace("+", "%2B")) == [str(made[1].pk)]
    assert ids(f"/api/v1/events?filter[subject]={job.pk}&filter[subject_type]=jobs") == \
        [str(e.pk) for e in made]
    assert ids(f"/api/v1/jobs/{job.pk}/events?filter[kind]=started") == [str(made[1].pk)]


@pytest.mark.parametrize("url,parameter", [
    ("/api/v1/events?filter[kind]=nope", "filter[kind]"),
    ("/api/v1/events?filter[kind__in]=created,nope", "filter[kind__in]"),
    ("/api/v1/events?filter[subject]=not-a-uuid", "filter[subject]"),
    ("/api/v1/events?filter[created_at__gte]=yesterday", "filter[created_at__gte]"),
    ("/api/v1/events?sort=message", "sort"),
])
def test_bad_event_queries_are_400s(api, url, parameter):
    assert error_of(api.get(url), 400)["source"] == {"parameter": parameter}


def test_unknown_or_malformed_subjects_are_404(api, project):
    for url in ("/api/v1/exports/nope/events", "/api/v1/jobs/00000000-0000-0000-0000-0000000"
                "00000/events", "/api/v1/sync-runs/00000000-0000-0000-0000-000000000000/events"):
        error_of(api.get(url), 404)


def test_another_projects_events_are_absent(other_api, timeline):
    job, made, _ = timeline
    assert all(item["id"] not in {str(e.pk) for e in made}
               for item in body(other_api.get("/api/v1/events"))["data"])
    error_of(other_api.get(f"/api/v1/events/{made[0].pk}"), 404)
    error_of(other_api.get(f"/api/v1/jobs/{job.pk}/events"), 404)


@pytest.mark.parametrize("url", [
    "/api/v1/jobs?page[size]={size}&include=events",
    "/api/v1/exports?page[size]={size}&include=events,job.events",
    "/api/v1/sync-runs?page[size]={size}&include=events,job",
    "/api/v1/syncs?page[size]={size}&include=last_run.events",
    "/api/v1/events?page[size]={size}&include=project",
])
def test_include_events_in_constant_queries(api, project, make_job, url,
                                            django_assert_max_num_queries):
    from syncs.models import Connection, Sync

    connection = Connection.objects.create(project=project, provider="http_api", name="c")
    for index in range(30):
        job = make_job(project, status="failed")
        export = Export.objects.create(project=project, job=job, resource_type=f"r{index}",
                                       format="csv", status="success")
        sync = Sync.objects.create(project=project, connection=connection, name=f"s{index}",
                                   slug=f"s{index}", status="active")
        run = SyncRun.objects.create(project=project, sync=sync, job=job, status="failed")
        for subject in (job, export, run):
            events.record_for(subject, "failed", {"reason": "boom"})
            events.record_for(subject, "cancelled", {})
    with django_assert_max_num_queries(12) as small:
        document = body(api.get(url.format(size=1)))
        assert len(document["data"]) == 1
    with django_assert_max_num_queries(len(small.captured_queries)):
        document = body(api.get(url.format(size=30)))
        assert len(document["data"]) == 30
    if "events" in url.split("include=")[1]:
        assert sum(1 for item in document["included"] if item["type"] == "events") >= 60


def test_fast_and_stock_documents_agree(api, timeline, settings):
    job, _, _ = timeline
    urls = [f"/api/v1/jobs/{job.pk}?include=events", "/api/v1/jobs?include=events.project",
            "/api/v1/events?include=project", f"/api/v1/jobs/{job.pk}/events"]
    for url in urls:
        settings.JSONAPI_FAST_PATH = True
        fast = api.get(url).content
        settings.JSONAPI_FAST_PATH = False
        stock = api.get(url).content
        assert orjson.loads(fast) == orjson.loads(stock), url


# --- recording and pruning -----------------------------------------------------------------

def test_data_is_checked_against_the_kinds_schema(project, make_job):
    job = make_job(project)
    with pytest.raises(ValueError, match="reason"):
        events.record_for(job, "failed", {})
    with pytest.raises(ValueError, match="nope"):
        events.record_for(job, "nope")


def test_events_roll_back_with_their_change(project, make_job):
    from django.db import transaction

    job = make_job(project)
    with pytest.raises(RuntimeError), transaction.atomic():
        events.record_for(job, "cancelled", {})
        raise RuntimeError
    assert kinds(job) == []


def test_prune_drops_old_events_and_caps_each_subject(project, make_job, settings):
    settings.EVENTS_RETENTION_DAYS = 30
    settings.EVENTS_MAX_PER_SUBJECT = 3
    old, busy = make_job(project), make_job(project)
    stale = events.record_for(old, "created")
    Event.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(days=31))
    kept_old = events.record_for(old, "cancelled")
    recorded = [events.record_for(busy, "retried", {"reason": f"r{i}"}) for i in range(5)]
    assert events.prune_events() == {"expired": 1, "over_limit": 2, "errors": 0}
    assert set(Event.objects.values_list("pk", flat=True)) == {
        kept_old.pk, *(e.pk for e in recorded[2:])}
    settings.EVENTS_RETENTION_DAYS = settings.EVENTS_MAX_PER_SUBJECT = 0
    assert events.prune_events() == {"expired": 0, "over_limit": 0, "errors": 0}


def test_prune_goes_on_when_a_batch_fails(project, make_job, settings, monkeypatch):
    settings.EVENTS_MAX_PER_SUBJECT = 0
    monkeypatch.setattr(events, "PRUNE_BATCH", 2)
    job = make_job(project)
    for _ in range(5):
        event = events.record_for(job, "created")
        Event.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(days=99))
    real_filter = Event.objects.filter
    calls = {"n": 0}

    def flaky_filter(*args, **kwargs):
        if "pk__in" in kwargs:
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("lock timeout")
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(Event.objects, "filter", flaky_filter)
    result = events.prune_events()
    assert result == {"expired": 3, "over_limit": 0, "errors": 1}


def test_the_prune_job_is_periodic(run_job, settings):
    settings.EVENTS_RETENTION_DAYS = 1
    assert "events.prune" in {entry.job_class for entry in registered_periodic_jobs()}
    job = job_services.enqueue("events.prune", {})
    assert run_job(job.pk).result == {"expired": 0, "over_limit": 0, "errors": 0}


def test_a_sparse_fieldset_without_events_reads_none(api, timeline,
                                                     django_assert_max_num_queries):
    with django_assert_max_num_queries(20) as queries:
        document = body(api.get("/api/v1/jobs?fields=status"))
    assert "relationships" not in document["data"][0]
    assert not any("events_event" in q["sql"] for q in queries.captured_queries)
    with django_assert_max_num_queries(20) as queries:
        document = body(api.get("/api/v1/jobs?fields=status,events"))
    assert len(document["data"][0]["relationships"]["events"]["data"]) == 3
    assert sum("events_event" in q["sql"] for q in queries.captured_queries) == 1


# --- admin ---------------------------------------------------------------------------------

def test_admin_shows_a_subjects_events_and_lists_them(admin_client, timeline, project,
                                                      make_job):
    job, made, _ = timeline
    page = admin_client.get(f"/admin/jobs/job/{job.pk}/change/").content.decode()
    assert page.index("Created") < page.index("Started") < page.index("Failed: boom")
    listed = admin_client.get(f"/admin/events/event/?subject_type=jobs&subject_id={job.pk}")
    assert listed.status_code == 200
    assert listed.content.decode().count("boom") >= 1
    assert admin_client.get(f"/admin/events/event/?kind=failed&subject_id={job.pk}"
                            ).status_code == 200
    assert admin_client.get(f"/admin/events/event/{made[0].pk}/change/").status_code == 200
    assert admin_client.get("/admin/events/event/add/").status_code == 403
    empty = make_job(project)
    assert "No events yet." in admin_client.get(
        f"/admin/jobs/job/{empty.pk}/change/").content.decode()


def test_the_openapi_document_publishes_events():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path in ("/api/v1/events", "/api/v1/events/{id}", "/api/v1/exports/{subject_pk}/events",
                 "/api/v1/sync-runs/{subject_pk}/events", "/api/v1/jobs/{subject_pk}/events"):
        assert "get" in schema["paths"][path], path
    for resource in ("ExportResource", "SyncRunResource", "JobResource"):
        events = schema["components"]["schemas"][resource]["properties"]["relationships"][
            "properties"]["events"]["properties"]["data"]
        assert events["type"] == "array"
        assert events["items"]["properties"]["type"]["enum"] == ["events"]
    data = schema["components"]["schemas"]["EventDataEntityProgress"]
    assert set(data["required"]) == {"entity", "rows_read", "rows_written"}
