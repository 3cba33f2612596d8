"""``manage.py export`` (the export service, run inline with a progress bar) and
``manage.py expire_exports``."""

import csv
import gzip
import io
import json
import os
import re
import signal
from datetime import UTC, timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone

from exports import formats, services
from exports.models import Export, ExportFile
from jobs.models import Job

pytestmark = pytest.mark.usefixtures("media_storage")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def some_jobs(project, other_project, make_job):
    """Four jobs of ``project`` (mixed statuses, nested payloads) and one of another."""
    jobs = [make_job(project, "jobs.noop", priority=index, status=status,
                     payload={"n": index, "tags": ["a", "b"]}, error=error)
            for index, (status, error) in enumerate([("succeeded", ""), ("failed", "boom, \"x\""),
                                                     ("pending", ""), ("cancelled", "")])]
    make_job(other_project, "jobs.noop")
    return jobs


def export(*args: str, stderr=None) -> tuple[Export, str]:
    out = io.StringIO()
    call_command("export", *args, stdout=out, stderr=stderr or io.StringIO())
    text = out.getvalue()
    export_id = re.match(r"Export (\S+):", text).group(1)
    return Export.objects.get(pk=export_id), text


def iso(value) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def read_csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def storage_files(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file())


# --- building ------------------------------------------------------------------------------

def test_export_to_csv_matches_the_database(project, some_jobs, tmp_path):
    output = tmp_path / "jobs.csv"
    done, text = export("jobs", "--project", "acme", "--format", "csv", "--output", str(output))

    assert done.status == "success" and done.format == "csv"
    assert done.records_count == 5  # the four jobs, and the export's own build job
    (export_file,) = done.files.all()
    with default_storage.open(export_file.storage_name, "rb") as fh:
        assert output.read_bytes() == fh.read()
    assert export_file.size == output.stat().st_size == done.size

    rows = {row["id"]: row for row in read_csv(output)}
    assert set(rows) == {str(job.pk) for job in Job.objects.filter(project=project)}
    for job in some_jobs:
        row = rows[str(job.pk)]
        assert row["job_class"] == "jobs.noop" and row["status"] == job.status
        assert row["priority"] == str(job.priority) and row["error"] == job.error
        assert json.loads(row["payload"]) == job.payload
        assert row["project_id"] == str(project.pk)
        assert row["created_at"] == iso(job.created_at)
        assert row["unicity"] == ""  # None is an empty cell
    build = rows[str(done.job_id)]
    assert build["job_class"] == "exports.build" and build["status"] == "running"

    assert text.splitlines() == [
        f"Export {done.pk}: jobs of acme as csv (job {done.job_id})",
        f"Export {done.pk} success: 5 records, 1 file, {done.size:,} bytes",
        f"  1. {export_file.filename}: 5 records, {done.size:,} bytes, "
        f"sha256 {export_file.sha256}",
        f"Wrote {output}",
    ]


def test_the_build_job_is_claimed_and_finished_by_the_command(some_jobs):
    done, _ = export("jobs", "--project", "acme", "--format", "jsonl")
    job = Job.objects.get(pk=done.job_id)
    assert job.status == "succeeded" and job.progress == 100
    assert job.worker_id == f"cli:{os.getpid()}" and job.started_at and job.finished_at
    assert job.result == {"export_id": str(done.pk), "records_count": 5, "files": 1}
    assert done.created_by_id.startswith("cli") and done.expires_at > timezone.now()


def test_progress_bar_on_a_terminal(some_jobs):
    terminal = Terminal()
    export("jobs", "--project", "acme", "--format", "csv", stderr=terminal)
    bar = terminal.getvalue()
    assert "jobs as csv:   0%" in bar and "jobs as csv: 100%" in bar
    quiet = Terminal()
    export("jobs", "--project", "acme", "--format", "json", "--no-progress", stderr=quiet)
    assert quiet.getvalue() == ""
    not_a_terminal = io.StringIO()  # a log file: no bar
    export("jobs", "--project", "acme", "--format", "jsonl", stderr=not_a_terminal)
    assert not_a_terminal.getvalue() == ""


def test_several_files_go_into_the_output_directory(some_jobs, settings, tmp_path):
    settings.EXPORTS_MAX_RECORDS_PER_FILE = 2
    output = tmp_path / "out" / "jobs"
    done, text = export("jobs", "--project", "acme", "--format", "csv", "--output", str(output))
    files = list(done.files.order_by("index"))
    assert [f.records_count for f in files] == [2, 2, 1]
    assert sorted(p.name for p in output.iterdir()) == sorted(f.filename for f in files)
    ids = []
    for export_file in files:
        rows = read_csv(output / export_file.filename)
        assert len(rows) == export_file.records_count
        ids += [row["id"] for row in rows]
    assert sorted(ids) == sorted(str(pk) for pk in Job.objects.filter(
        project__name="acme").values_list("pk", flat=True))
    assert f"Export {done.pk} success: 5 records, 3 files," in text


def test_one_file_into_an_existing_directory_keeps_its_name(some_jobs, tmp_path):
    done, _ = export("jobs", "--project", "acme", "--format", "json", "--output", str(tmp_path))
    export_file = done.files.get()
    data = json.loads((tmp_path / export_file.filename).read_bytes())
    assert len(data) == 5


def test_several_files_cannot_go_to_a_file(some_jobs, settings, tmp_path):
    settings.EXPORTS_MAX_RECORDS_PER_FILE = 2
    target = tmp_path / "taken.csv"
    target.write_text("keep")
    with pytest.raises(CommandError, match="--output must be a directory"):
        export("jobs", "--project", "acme", "--format", "csv", "--output", str(target))
    assert target.read_text() == "keep"
    assert Export.objects.get().status == "success"  # the export itself is fine


def test_filters_fields_includes_dry_data_and_compress(project, some_jobs, tmp_path):
    output = tmp_path / "failed.jsonl.gz"
    done, _ = export("jobs", "--project", "acme", "--filter", "status__in=failed,cancelled",
                     "--filter", "priority__gte=1", "--fields", "status,priority",
                     "--includes", "project", "--compress", "--output", str(output))
    assert done.filters == {"status__in": "failed,cancelled", "priority__gte": "1"}
    assert done.fields == ["status", "priority"] and done.includes == ["project"]
    assert done.files.get().mime_type == "application/gzip"
    rows = [json.loads(line) for line in gzip.decompress(output.read_bytes()).splitlines()]
    expected = [job for job in some_jobs if job.status in ("failed", "cancelled")]
    assert [row["id"] for row in rows] == sorted(str(job.pk) for job in expected)
    for row in rows:
        assert set(row) == {"id", "status", "priority", "project"}
        assert row["project"]["id"] == str(project.pk) and row["project"]["name"] == "acme"

    dry, _ = export("jobs", "--project", "acme", "--format", "jsonl", "--dry-data",
                    "--filter", "job_class=jobs.noop", "--output", str(tmp_path / "dry.jsonl"))
    rows = [json.loads(line) for line in (tmp_path / "dry.jsonl").read_bytes().splitlines()]
    assert len(rows) == 4
    for row in rows:
        assert "id" not in row and "project_id" not in row and "created_at" not in row
        assert "unicity" not in row  # blank values are left out
        assert row["job_class"] == "jobs.noop"


def test_other_resource_types(project, other_project, tmp_path):
    done, _ = export("projects", "--project", "acme", "--format", "csv", "--output",
                     str(tmp_path / "projects.csv"))
    rows = read_csv(tmp_path / "projects.csv")
    assert [row["id"] for row in rows] == [str(project.pk)] and rows[0]["name"] == "acme"
    exports, _ = export("exports", "--project", "acme", "--format", "json", "--output",
                        str(tmp_path / "exports.json"))
    data = json.loads((tmp_path / "exports.json").read_bytes())
    # The earlier export, and the running one itself.
    assert {row["id"] for row in data} == {str(done.pk), str(exports.pk)}


# --- refusals ------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["jobs", "--project", "nope"], "No project named 'nope'."),
    (["nope", "--project", "acme"], "Unknown resource type 'nope'; exportable: exports, jobs, "
                                    "projects."),
    (["jobs", "--project", "acme", "--format", "xml"], "Unknown format 'xml'; formats: jsonl, "
                                                       "json, csv, parquet, xlsx."),
    (["jobs", "--project", "acme", "--filter", "nope=1"], "Unknown filter 'nope'"),
    (["jobs", "--project", "acme", "--filter", "status"], "--filter takes NAME=VALUE"),
    (["jobs", "--project", "acme", "--filter", "status=a", "--filter", "status=b"],
     "--filter status is given twice"),
    (["jobs", "--project", "acme", "--fields", "status,nope"], "Unknown field 'nope' of jobs"),
    (["jobs", "--project", "acme", "--includes", "nope"], "Unknown relationship path 'nope' in "
                                                          "`includes`; allowed at this level: "
                                                          "project."),
])
def test_mistakes_are_command_errors(project, args, message):
    with pytest.raises(CommandError) as caught:
        call_command("export", *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert str(caught.value).startswith(message)
    assert not Export.objects.exists() and not Job.objects.exists()


def test_an_active_export_of_the_same_type_is_a_conflict(project):
    pending = services.create_export(project, services.ExportRequest("jobs"))
    with pytest.raises(CommandError, match="An export of jobs is already pending or processing "
                                           "for this project; wait for it to finish."):
        call_command("export", "jobs", "--project", "acme", stdout=io.StringIO())
    assert list(Export.objects.values_list("pk", flat=True)) == [pending.pk]
    assert Job.objects.get().status == "pending"  # its job was not touched


# --- failure and cancellation --------------------------------------------------------------

def test_a_failed_build_fails_the_export_and_its_job(some_jobs, monkeypatch, media_storage):
    def broken(self, rows):
        raise RuntimeError("disk on fire")

    # (the Python path writes rows, PostgreSQL's COPY fast path encoded ones)
    monkeypatch.setattr(formats.CsvWriter, "write", broken)
    monkeypatch.setattr(formats.CsvWriter, "write_encoded", broken)
    with pytest.raises(CommandError, match=r"failed: RuntimeError: disk on fire"):
        call_command("export", "jobs", "--project", "acme", "--format", "csv",
                     stdout=io.StringIO(), stderr=io.StringIO())
    failed = Export.objects.get()
    assert failed.status == "failed" and failed.errors_log == {"RuntimeError": "disk on fire"}
    job = Job.objects.get(pk=failed.job_id)
    assert job.status == "failed" and job.error == "RuntimeError: disk on fire"
    assert storage_files(media_storage) == []  # no file, not even a temporary one
    assert not ExportFile.objects.exists()


def cancel_during_first_batch(monkeypatch, how):
    # (the Python path writes rows, PostgreSQL's COPY fast path encoded ones)
    for method in ("write", "write_encoded"):
        real_write = getattr(formats.JsonLinesWriter, method)

        def write(self, rows, real_write=real_write):
            how()
            real_write(self, rows)

        monkeypatch.setattr(formats.JsonLinesWriter, method, write)


def test_a_cancel_requested_on_the_job_stops_the_build(some_jobs, monkeypatch, settings,
                                                       media_storage):
    settings.EXPORTS_MAX_RECORDS_PER_FILE = 1  # a file is already published when it stops
    cancel_during_first_batch(monkeypatch, lambda: Job.objects.filter(
        job_class="exports.build").update(cancel_requested_at=timezone.now()))
    with pytest.raises(CommandError, match="cancelled; its files were removed"):
        call_command("export", "jobs", "--project", "acme", stdout=io.StringIO(),
                     stderr=io.StringIO())
    cancelled = Export.objects.get()
    assert cancelled.status == "cancelled" and cancelled.interrupted_at
    assert Job.objects.get(pk=cancelled.job_id).status == "cancelled"
    assert storage_files(media_storage) == [] and not ExportFile.objects.exists()


def test_ctrl_c_cancels_cooperatively(some_jobs, monkeypatch, media_storage):
    before = signal.getsignal(signal.SIGINT)
    cancel_during_first_batch(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGINT))
    stderr = io.StringIO()
    with pytest.raises(CommandError, match="cancelled"):
        call_command("export", "jobs", "--project", "acme", stdout=io.StringIO(),
                     stderr=stderr)
    assert "Cancelling at the next batch" in stderr.getvalue()
    assert Export.objects.get().status == "cancelled"
    assert Job.objects.get(job_class="exports.build").status == "cancelled"
    assert storage_files(media_storage) == []
    assert signal.getsignal(signal.SIGINT) is before  # the handler is restored


# --- expire_exports ------------------------------------------------------------------------

def test_expire_exports(some_jobs, settings):
    settings.EXPORTS_MAX_RECORDS_PER_FILE = 2
    old, _ = export("jobs", "--project", "acme", "--format", "csv")
    fresh, _ = export("projects", "--project", "acme", "--format", "csv")
    names = [f.storage_name for f in old.files.all()]
    assert len(names) == 3 and all(default_storage.exists(name) for name in names)
    Export.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    out = io.StringIO()
    call_command("expire_exports", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[-1] == "Expired 1 export(s)."
    assert lines[0].startswith(f"{old.pk} jobs as csv of acme (expires_at ")
    assert Export.objects.get(pk=old.pk).status == "expired"
    assert not any(default_storage.exists(name) for name in names)
    assert Export.objects.get(pk=fresh.pk).status == "success"
    assert default_storage.exists(fresh.files.get().storage_name)

    out = io.StringIO()
    call_command("expire_exports", stdout=out)
    assert out.getvalue() == "Expired 0 export(s).\n"
