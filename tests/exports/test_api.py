"""The exports resource end to end: create (validation, 409), the build job, every format
read back, splitting, gzip, filters/fields/includes, dry_data, download, delete, expiry,
tenancy, the reference's filters and constant SQL."""

import csv
import gzip
import io
import json
import uuid
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from exports import services
from exports.models import Export, ExportFile
from jobs.models import Job
from tests.conftest import body, error_of

pytestmark = pytest.mark.usefixtures("media_storage")


def create(api, **attributes):
    return api.send_document("post", "/api/v1/exports/export", "exports", attributes)


@pytest.fixture
def some_jobs(project, make_job):
    """Six jobs of ``project`` (three failed, three succeeded) and one of another project."""
    rows = []
    for index in range(6):
        rows.append(make_job(project, "exports.demo", priority=index,
                             status="failed" if index % 2 else "succeeded",
                             payload={"n": index, "tags": ["a", "b"]},
                             error="boom" if index % 2 else ""))
    return rows


def export_and_run(api, run_job, **attributes):
    response = create(api, **attributes)
    assert response.status_code == 202, response.content
    export_id = body(response)["data"]["id"]
    export = Export.objects.get(pk=export_id)
    run_job(export.job_id)
    return Export.objects.get(pk=export_id)


def export_jobs(api, run_job, **attributes):
    """Export the `some_jobs` rows: the export's own build job is a job of the project too."""
    filters = {"job_class": "exports.demo", **attributes.pop("filters", {})}
    return export_and_run(api, run_job, resource_type="jobs", filters=filters, **attributes)


def read(export_file: ExportFile) -> bytes:
    with default_storage.open(export_file.storage_name, "rb") as fh:
        data = fh.read()
    return gzip.decompress(data) if export_file.filename.endswith(".gz") else data


def jobs_table(project):
    return {str(j.pk): j for j in Job.objects.filter(project=project,
                                                     job_class="exports.demo")}


# --- creation -------------------------------------------------------------------------------

def test_create_returns_202_with_the_pending_export(api, project, some_jobs):
    response = create(api, resource_type="jobs", format="csv", reference="ref-1",
                      metadata={"who": "test"})
    assert response.status_code == 202
    data = body(response)["data"]
    assert data["type"] == "exports"
    attributes = data["attributes"]
    assert (attributes["status"], attributes["format"], attributes["resource_type"]) == (
        "pending", "csv", "jobs")
    assert attributes["reference"] == "ref-1" and attributes["metadata"] == {"who": "test"}
    assert attributes["created_by_id"] is not None
    job = Job.objects.get(pk=data["relationships"]["job"]["data"]["id"])
    assert job.job_class == "exports.build" and job.status == "pending"


def test_a_second_active_export_of_the_same_type_is_409(api, project, some_jobs):
    assert create(api, resource_type="jobs").status_code == 202
    error_of(create(api, resource_type="jobs", format="csv"), 409)
    assert create(api, resource_type="projects").status_code == 202  # another type is fine
    assert Export.objects.count() == 2


def test_other_projects_do_not_conflict(api, other_api, some_jobs):
    assert create(api, resource_type="jobs").status_code == 202
    assert create(other_api, resource_type="jobs").status_code == 202


@pytest.mark.parametrize("attributes,pointer", [
    ({"resource_type": "nope"}, "/data/attributes/resource_type"),
    ({"resource_type": "jobs", "format": "pdf"}, "/data/attributes/format"),
    ({"resource_type": "jobs", "fields": ["status", "nope"]}, "/data/attributes/fields/1"),
    ({"resource_type": "jobs", "includes": ["owner"]}, "/data/attributes/includes/0"),
    ({"resource_type": "jobs", "filters": {"nope": "1"}}, "/data/attributes/filters/nope"),
    ({"resource_type": "jobs", "filters": {"priority__gte": "high"}},
     "/data/attributes/filters/priority__gte"),
    ({"resource_type": "jobs", "filters": {"status": "exploded"}},
     "/data/attributes/filters/status"),
    ({"resource_type": "jobs", "filters": "status=failed"}, "/data/attributes/filters"),
    ({"format": "csv"}, "/data/attributes/resource_type"),
    ({"resource_type": "jobs", "dry_data": "maybe"}, "/data/attributes/dry_data"),
])
def test_invalid_requests_are_422_with_a_pointer(api, some_jobs, attributes, pointer):
    assert error_of(create(api, **attributes), 422)["source"] == {"pointer": pointer}
    assert not Export.objects.exists()


def test_create_needs_write_scope(make_client, make_key, project):
    error_of(make_client(make_key(project, scope="read")).send_document(
        "post", "/api/v1/exports/export", "exports", {"resource_type": "jobs"}), 403)


# --- formats read back ------------------------------------------------------------------------

def test_csv_export_matches_the_rows(api, project, some_jobs, run_job):
    export = export_jobs(api, run_job, format="csv")
    assert export.status == "success" and export.records_count == 6
    (export_file,) = export.files.all()
    rows = list(csv.DictReader(io.StringIO(read(export_file).decode())))
    table = jobs_table(project)
    assert {row["id"] for row in rows} == set(table)
    for row in rows:
        job = table[row["id"]]
        assert row["job_class"] == job.job_class and int(row["priority"]) == job.priority
        assert json.loads(row["payload"]) == job.payload  # nested values JSON-encoded
        assert row["project_id"] == str(project.pk)
        assert row["created_at"].endswith("Z")
    assert export_file.sha256 and export_file.size == export.size


def test_jsonl_and_json_exports_match_the_api_attributes(api, project, some_jobs, run_job):
    jsonl = export_jobs(api, run_job, format="jsonl")
    records = [json.loads(line) for line in read(jsonl.files.get()).decode().splitlines()]
    api_rows = {item["id"]: item["attributes"] for item in body(api.get("/api/v1/jobs"))["data"]}
    for record in records:
        for name, value in api_rows[record["id"]].items():
            assert record[name] == value, name  # same names, same values as the API
    doc = export_and_run(api, run_job, resource_type="projects", format="json")
    (project_row,) = json.loads(read(doc.files.get()))
    assert project_row["name"] == "acme"


def test_parquet_export(api, project, some_jobs, run_job):
    import pyarrow.parquet as pq

    export = export_jobs(api, run_job, format="parquet",
                            fields=["status", "priority"])
    table = pq.read_table(io.BytesIO(read(export.files.get()))).to_pylist()
    assert sorted((r["status"], int(r["priority"])) for r in table) == sorted(
        (j.status, j.priority) for j in some_jobs)


def test_xlsx_export(api, project, some_jobs, run_job):
    from openpyxl import load_workbook

    export = export_jobs(api, run_job, format="xlsx",
                            fields=["job_class", "priority"])
    sheet = load_workbook(io.BytesIO(read(export.files.get()))).active
    rows = list(sheet.values)
    assert rows[0] == ("id", "job_class", "priority")
    assert sorted(r[2] for r in rows[1:]) == [0, 1, 2, 3, 4, 5]


def test_unavailable_optional_format_is_422(api, some_jobs, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyarrow" else real(name, *a))
    error = error_of(create(api, resource_type="jobs", format="parquet"), 422)
    assert error["source"] == {"pointer": "/data/attributes/format"}
    assert "syncservice[parquet]" in error["detail"]


# --- options -------------------------------------------------------------------------------

def test_split_into_files_with_correct_counts(api, project, some_jobs, run_job, settings):
    settings.EXPORTS_MAX_RECORDS_PER_FILE = 4
    export = export_jobs(api, run_job, format="csv")
    files = list(export.files.order_by("index"))
    assert [f.records_count for f in files] == [4, 2]
    ids = []
    for export_file in files:
        rows = list(csv.DictReader(io.StringIO(read(export_file).decode())))
        assert len(rows) == export_file.records_count
        ids += [r["id"] for r in rows]
    assert sorted(ids) == sorted(str(j.pk) for j in some_jobs)
    assert export.size == sum(f.size for f in files)


def test_split_by_bytes(api, project, some_jobs, run_job, settings):
    settings.EXPORTS_MAX_BYTES_PER_FILE = 1
    export = export_jobs(api, run_job, format="jsonl",
                            fields=["status"])
    # The writer checks the size after each write: one batch per file at most.
    assert export.files.count() >= 1
    assert sum(f.records_count for f in export.files.all()) == 6


def test_gzip_round_trip(api, project, some_jobs, run_job):
    export = export_jobs(api, run_job, format="jsonl", compress=True)
    export_file = export.files.get()
    assert export_file.filename.endswith(".jsonl.gz")
    assert export_file.mime_type == "application/gzip"
    lines = read(export_file).decode().splitlines()
    assert len(lines) == 6


def test_filters_fields_and_includes(api, project, some_jobs, run_job):
    export = export_jobs(api, run_job, format="jsonl",
                            filters={"status": "failed", "priority__gte": 2},
                            fields=["status", "priority"], includes=["project"])
    records = [json.loads(line) for line in read(export.files.get()).decode().splitlines()]
    assert sorted(r["priority"] for r in records) == [3, 5]
    for record in records:
        assert set(record) == {"id", "status", "priority", "project"}
        assert record["project"]["name"] == "acme"


def test_in_filter_as_a_list(api, project, some_jobs, run_job):
    wanted = [str(some_jobs[0].pk), str(some_jobs[1].pk)]
    export = export_jobs(api, run_job, format="jsonl",
                            filters={"id__in": wanted})
    records = [json.loads(line) for line in read(export.files.get()).decode().splitlines()]
    assert sorted(r["id"] for r in records) == sorted(wanted)


def test_to_many_and_nested_includes(api, project, some_jobs, run_job):
    first = export_jobs(api, run_job, format="csv")
    export = export_and_run(api, run_job, resource_type="exports", format="jsonl",
                            includes=["files", "job.project"],
                            filters={"id": str(first.pk)})
    (record,) = [json.loads(line) for line in read(export.files.get()).decode().splitlines()]
    assert [f["filename"] for f in record["files"]] == [first.files.get().filename]
    assert record["job"]["id"] == str(first.job_id)
    assert record["job"]["project"]["name"] == "acme"


def test_dry_data_drops_ids_timestamps_and_blanks(api, project, some_jobs, run_job):
    export = export_jobs(api, run_job, format="jsonl", dry_data=True)
    records = [json.loads(line) for line in read(export.files.get()).decode().splitlines()]
    for record in records:
        assert "id" not in record and "project_id" not in record
        assert "created_at" not in record and "updated_at" not in record
        assert all(value not in (None, "", [], {}) for value in record.values())
    assert sum(1 for r in records if "error" in r) == 3


# --- lifecycle -------------------------------------------------------------------------------

def test_status_flow_to_success_with_progress(api, project, some_jobs, run_job):
    export = export_jobs(api, run_job, format="csv")
    assert export.status == "success"
    assert export.started_at <= export.completed_at
    assert export.expires_at > timezone.now() + timedelta(days=6)
    job = Job.objects.get(pk=export.job_id)
    assert (job.status, job.progress) == ("succeeded", 100)


def test_failure_records_errors_and_leaves_no_file(api, project, some_jobs, run_job, settings,
                                                     monkeypatch, media_storage):
    from exports import formats

    settings.EXPORTS_MAX_RECORDS_PER_FILE = 2  # a first file gets published before the crash

    calls = {"n": 0}

    def exploding(original):
        def explode(self, rows):
            calls["n"] += 1
            if calls["n"] > 2:
                raise OSError("disk full")
            return original(self, rows)
        return explode

    # (the Python path writes rows, PostgreSQL's COPY fast path encoded ones)
    for method in ("write", "write_encoded"):
        monkeypatch.setattr(formats.CsvWriter, method,
                            exploding(getattr(formats.CsvWriter, method)))
    response = create(api, resource_type="jobs", format="csv")
    export = Export.objects.get(pk=body(response)["data"]["id"])
    job = run_job(export.job_id)
    export.refresh_from_db()
    assert export.status == "failed" and export.interrupted_at is not None
    assert export.errors_log == {"OSError": "disk full"}
    assert job.status == "failed"
    assert not export.files.exists()
    assert [p for p in media_storage.rglob("*") if p.is_file()] == []


def test_cancel_stops_the_export_and_removes_partial_files(api, project, some_jobs, run_job,
                                                           settings, media_storage):
    from jobs import claiming
    from jobs import services as job_services
    from jobs.context import JobContext

    settings.EXPORTS_MAX_RECORDS_PER_FILE = 2
    response = create(api, resource_type="jobs", format="csv")
    export = Export.objects.get(pk=body(response)["data"]["id"])
    job = claiming.claim_by_id(export.job_id, "w")

    class CancelAfterFirstBatch(JobContext):
        def progress(self, percent):
            job_services.cancel(self.job)
            super().progress(percent)

    from jobs.context import JobCancelled

    with pytest.raises(JobCancelled):
        services.build_export(CancelAfterFirstBatch(job, "w"), export)
    export.refresh_from_db()
    assert export.status == "cancelled" and export.interrupted_at is not None
    assert not export.files.exists()
    assert [p for p in media_storage.rglob("*") if p.is_file()] == []


def test_an_empty_export_has_one_empty_file(api, project, run_job):
    export = export_jobs(api, run_job, format="csv")
    assert export.status == "success" and export.records_count == 0
    assert read(export.files.get()).decode().strip().startswith("id,")


# --- download ------------------------------------------------------------------------------

def test_download_streams_the_file_with_headers(api, project, some_jobs, run_job):
    export = export_jobs(api, run_job, format="csv")
    export_file = export.files.get()
    response = api.get(f"/api/v1/exports/{export.pk}/download")
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    assert content == read(export_file)
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Length"] == str(export_file.size)
    assert f'filename="{export_file.filename}"' in response["Content-Disposition"]
    assert "attachment" in response["Content-Disposition"]
    attachment = body(api.get(f"/api/v1/exports/{export.pk}"))["data"]["attributes"][
        "attachment_url"]
    assert attachment.endswith(f"/api/v1/exports/{export.pk}/download")


def test_download_of_one_of_several_files(api, project, some_jobs, run_job, settings):
    settings.EXPORTS_MAX_RECORDS_PER_FILE = 4
    export = export_jobs(api, run_job, format="csv")
    assert error_of(api.get(f"/api/v1/exports/{export.pk}/download"), 400)["source"] == {
        "parameter": "file"}
    second = export.files.get(index=2)
    response = api.get(f"/api/v1/exports/{export.pk}/download?file=2")
    assert b"".join(response.streaming_content) == read(second)
    for bad in ("3", "0", "x"):
        assert error_of(api.get(f"/api/v1/exports/{export.pk}/download?file={bad}"), 400)[
            "source"] == {"parameter": "file"}
    files = body(api.get(f"/api/v1/exports/{export.pk}?included=files"))["included"]
    assert sorted(f["attributes"]["index"] for f in files) == [1, 2]
    assert files[0]["attributes"]["download_url"].split("?file=")[1] in ("1", "2")


def test_download_before_success_is_409_and_after_expiry_410(api, project, some_jobs,
                                                             run_job):
    response = create(api, resource_type="jobs", format="csv")
    export = Export.objects.get(pk=body(response)["data"]["id"])
    error_of(api.get(f"/api/v1/exports/{export.pk}/download"), 409)
    run_job(export.job_id)
    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.expire_exports() == [export.pk]
    error_of(api.get(f"/api/v1/exports/{export.pk}/download"), 410)


def test_expiry_deletes_files_and_flips_status(api, project, some_jobs, run_job):
    export = export_jobs(api, run_job, format="csv")
    name = export.files.get().storage_name
    assert default_storage.exists(name)
    assert services.expire_exports() == []  # not yet
    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now())
    services.expire_exports()
    export.refresh_from_db()
    assert export.status == "expired" and not default_storage.exists(name)


def test_orphaned_export_of_a_dead_job_is_failed_by_the_sweep(api, project, some_jobs):
    response = create(api, resource_type="jobs", format="csv")
    export = Export.objects.get(pk=body(response)["data"]["id"])
    Job.objects.filter(pk=export.job_id).update(status="failed", error="heartbeat_timeout")
    services.expire_exports()
    export.refresh_from_db()
    assert export.status == "failed" and export.errors_log == {"job": "heartbeat_timeout"}


def test_delete_removes_files(api, project, some_jobs, run_job):
    export = export_jobs(api, run_job, format="csv")
    name = export.files.get().storage_name
    assert api.delete(f"/api/v1/exports/{export.pk}").status_code == 204
    assert not Export.objects.filter(pk=export.pk).exists()
    assert not default_storage.exists(name)


def test_delete_while_pending_is_409(api, project, some_jobs):
    response = create(api, resource_type="jobs")
    export_id = body(response)["data"]["id"]
    error_of(api.delete(f"/api/v1/exports/{export_id}"), 409)


# --- tenancy -------------------------------------------------------------------------------

def test_another_projects_export_is_404_everywhere(api, other_api, project, some_jobs,
                                                   run_job):
    export = export_jobs(api, run_job, format="csv")
    for call in (lambda: other_api.get(f"/api/v1/exports/{export.pk}"),
                 lambda: other_api.get(f"/api/v1/exports/{export.pk}/download"),
                 lambda: other_api.delete(f"/api/v1/exports/{export.pk}")):
        error_of(call(), 404)
    assert body(other_api.get("/api/v1/exports"))["data"] == []
    assert Export.objects.filter(pk=export.pk).exists()


def test_an_export_contains_only_the_callers_project(api, other_project, make_job, project,
                                                     run_job):
    make_job(other_project, "exports.demo")
    make_job(project, "exports.demo")
    export = export_jobs(api, run_job, format="jsonl")
    records = [json.loads(line) for line in read(export.files.get()).decode().splitlines()]
    assert [r["project_id"] for r in records] == [str(project.pk)]


# --- formats endpoint ----------------------------------------------------------------------

def test_formats_by_modality(api):
    document = body(api.get("/api/v1/exports/formats?modalities=tabular"))
    names = {item["id"] for item in document["data"]}
    assert names == {"csv", "jsonl", "parquet", "xlsx"}
    csv_format = next(i for i in document["data"] if i["id"] == "csv")["attributes"]
    assert (csv_format["mime_type"], csv_format["extension"]) == ("text/csv", "csv")
    document = body(api.get("/api/v1/exports/formats?modalities=document,tabular"))
    assert "json" in {item["id"] for item in document["data"]}


@pytest.mark.parametrize("query", ["", "?modalities=", "?modalities=video",
                                   "?modalities=tabular,video"])
def test_formats_needs_known_modalities(api, query):
    assert error_of(api.get(f"/api/v1/exports/formats{query}"), 400)["source"] == {
        "parameter": "modalities"}


# --- index ---------------------------------------------------------------------------------

@pytest.fixture
def exports_index(api, project, some_jobs, run_job, settings):
    settings.EXPORTS_MAX_RECORDS_PER_FILE = 100
    first = export_jobs(api, run_job, format="csv")
    second = export_and_run(api, run_job, resource_type="projects", format="jsonl")
    third = export_and_run(api, run_job, resource_type="exports", format="json")
    return [first, second, third]


def ids(response):
    return {item["id"] for item in body(response)["data"]}


def test_every_reference_filter(api, exports_index, project):
    first, second, third = exports_index
    first_file = first.files.get()
    cases = [
        ("id", first.pk, {first}), ("id", uuid.uuid4(), set()),
        ("job_id", second.job_id, {second}), ("job_id", uuid.uuid4(), set()),
        ("project_id", project.pk, {first, second, third}), ("project_id", uuid.uuid4(), set()),
        ("created_by_id", first.created_by_id, {first, second, third}),
        ("created_by_id", "nobody", set()),
        ("file_id", first_file.pk, {first}), ("file_id", uuid.uuid4(), set()),
        ("filename", first.filename, {first}), ("filename", "x.csv", set()),
        ("mime_type", "application/jsonl", {second}), ("mime_type", "image/png", set()),
        ("size", first.size, {first}), ("size", 10**12, set()),
        ("created_at", first.created_at.isoformat().replace("+", "%2B"), {first}),
        ("created_at", "2001-01-01T00:00:00Z", set()),
        ("created_at__gte", second.created_at.isoformat().replace("+", "%2B"), {second, third}),
        ("created_at__gte", "2999-01-01T00:00:00Z", set()),
        ("created_at__lte", second.created_at.isoformat().replace("+", "%2B"), {first, second}),
        ("created_at__lte", "2001-01-01T00:00:00Z", set()),
        ("status", "success", {first, second, third}), ("status", "failed", set()),
        ("status__in", "failed,success", {first, second, third}),
    ]
    for name, value, expected in cases:
        got = ids(api.get(f"/api/v1/exports?filter[{name}]={value}"))
        assert got == {str(e.pk) for e in expected}, name


def test_sort_and_sparse_fields_and_includes(api, exports_index):
    document = body(api.get("/api/v1/exports?sort=resource_type"
                            "&fields=resource_type,files,job,project&included=files,job,project"))
    assert [i["attributes"]["resource_type"] for i in document["data"]] == [
        "exports", "jobs", "projects"]
    assert {i["type"] for i in document["included"]} == {"export-files", "jobs", "projects"}


def test_list_queries_are_constant(api, exports_index, django_assert_max_num_queries):
    url = "/api/v1/exports?page[size]={}&included=job,files,project"
    with django_assert_max_num_queries(8) as small:
        assert len(body(api.get(url.format(1)))["data"]) == 1
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(body(api.get(url.format(1000)))["data"]) == 3
