"""The exports admin: list, filters and search, the read-only page with its files, downloads
with the admin session, re-run, and deletion through the services (files included)."""

import io
import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.html import escape

from exports import services
from exports.models import Export, ExportFile
from jobs.models import Job
from tests.admin_pages import act, assert_delete_refused, notes, shown, staff

pytestmark = pytest.mark.usefixtures("media_storage")

CHANGELIST = "/admin/exports/export/"


@pytest.fixture
def some_jobs(project, other_project, make_job):
    jobs = [make_job(project, "jobs.noop", priority=index, payload={"n": index},
                     status="failed" if index % 2 else "succeeded") for index in range(4)]
    make_job(other_project, "jobs.noop")
    return jobs


def run_export(resource_type: str = "jobs", *options: str, project: str = "acme") -> Export:
    """An export built by the real service, through ``manage.py export``."""
    out = io.StringIO()
    call_command("export", resource_type, "--project", project, *options, stdout=out,
                 stderr=io.StringIO())
    export_id = re.match(r"Export (\S+):", out.getvalue()).group(1)
    export = Export.objects.get(pk=export_id)
    assert export.status == "success", out.getvalue()
    return export


def new_export(project, status: str = "failed", resource_type: str = "jobs",
               format: str = "csv", **fields) -> Export:
    """An export row without files (for the states a build does not reach synchronously)."""
    return Export.objects.create(project=project, resource_type=resource_type, format=format,
                                 status=status, **fields)


def change_url(export: Export) -> str:
    return f"{CHANGELIST}{export.pk}/change/"


def download_url(export: Export, index: int = 1) -> str:
    return f"{CHANGELIST}{export.pk}/download/{index}/"


def stored(export: Export) -> list[str]:
    return [f.storage_name for f in ExportFile.objects.filter(export_id=export.pk)]


def short(export: Export) -> str:
    return str(export.pk)[:8]


# --- the list ------------------------------------------------------------------------------

def test_changelist_shows_the_columns(admin_client, some_jobs):
    export = run_export("jobs", "--format", "csv")
    failed = new_export(export.project, "failed", resource_type="projects",
                        errors_log={"RuntimeError": "disk on fire"})
    response = admin_client.get(CHANGELIST)
    assert shown(response) == {export.pk, failed.pk}
    html = response.content.decode()
    assert f'href="{change_url(export)}"' in html and short(export) in html
    assert ">success</span>" in html and "#198754" in html
    assert ">failed</span>" in html and 'title="RuntimeError: disk on fire"' in html
    (export_file,) = export.files.all()
    assert f'href="{download_url(export)}"' in html and export_file.filename in html
    assert download_url(failed) not in html
    assert f">{export.records_count}<" in html and export.records_count == 5  # + the build job
    assert filesizeformat(export.size) in html  # human readable, e.g. "1.4 KB"
    assert "acme" in html and ">csv<" in html
    assert response.context["cl"].show_full_result_count is False
    for column in range(1, 12):  # every sortable column sorts
        assert admin_client.get(f"{CHANGELIST}?o={column}").status_code == 200


def test_changelist_filters_and_search(admin_client, project, other_project):
    csv_jobs = new_export(project, "success", reference="nightly-42", filename="jobs-1.csv")
    failed_projects = new_export(project, "failed", resource_type="projects")
    other = new_export(other_project, "cancelled", format="jsonl")

    assert shown(admin_client.get(f"{CHANGELIST}?status__exact=failed")) == {failed_projects.pk}
    assert shown(admin_client.get(f"{CHANGELIST}?resource_type=jobs")) == {csv_jobs.pk, other.pk}
    assert shown(admin_client.get(f"{CHANGELIST}?format=jsonl")) == {other.pk}
    assert shown(admin_client.get(f"{CHANGELIST}?project__id__exact={other_project.pk}")) \
        == {other.pk}

    def found(term: str) -> set:
        return shown(admin_client.get(CHANGELIST, {"q": term}))

    assert found("nightly-42") == {csv_jobs.pk}
    assert found("jobs-1.csv") == {csv_jobs.pk}
    assert found("projects") == {failed_projects.pk}
    assert found(str(other.pk)) == {other.pk}
    assert found(short(other)) == {other.pk}
    assert found("nothing-like-this") == set()


# --- the export's page ---------------------------------------------------------------------

def test_change_page_is_read_only_pretty_prints_and_lists_the_files(admin_client, some_jobs,
                                                                     settings):
    settings.EXPORTS_MAX_RECORDS_PER_FILE = 2
    export = run_export("jobs", "--format", "jsonl", "--filter", "job_class=jobs.noop",
                        "--fields", "status,priority", "--includes", "project")
    Export.objects.filter(pk=export.pk).update(metadata={"ticket": "<b>OPS-1</b>"})
    response = admin_client.get(change_url(export))
    assert response.status_code == 200
    html = response.content.decode()
    assert escape(json.dumps({"job_class": "jobs.noop"}, indent=2)) in html
    assert escape(json.dumps(["status", "priority"], indent=2)) in html
    assert escape(json.dumps(["project"], indent=2)) in html
    assert escape(json.dumps({"ticket": "<b>OPS-1</b>"}, indent=2)) in html
    assert "<b>OPS-1</b>" not in html
    assert f'href="/admin/jobs/job/{export.job_id}/change/"' in html
    # The files: one row each, read-only, with its checksum and download link.
    files = list(export.files.order_by("index"))
    assert len(files) == 2  # the four jobs.noop jobs of the project, two per file
    for export_file in files:
        assert export_file.filename in html and export_file.sha256 in html
        assert f'href="{download_url(export, export_file.index)}"' in html
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert 'name="resource_type"' not in html and 'name="files-0-filename"' not in html
    assert 'name="files-0-DELETE"' not in html
    # Superusers may re-run (a POST button) and delete a finished export.
    assert f'action="{CHANGELIST}{export.pk}/rerun/"' in html
    assert f"{export.pk}/delete/" in html


def test_change_page_of_a_failed_export_shows_its_errors(admin_client, project):
    export = new_export(project, "failed", errors_log={"RuntimeError": "disk <full>"})
    html = admin_client.get(change_url(export)).content.decode()
    assert escape(json.dumps({"RuntimeError": "disk <full>"}, indent=2)) in html


def test_a_change_cannot_be_saved_and_nothing_is_added(admin_client, project):
    export = new_export(project, "failed", reference="old")
    response = admin_client.post(change_url(export), {"reference": "new", "_save": "Save"})
    assert response.status_code == 403
    assert Export.objects.get(pk=export.pk).reference == "old"
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403


# --- downloads -----------------------------------------------------------------------------

def test_download_streams_the_file(admin_client, some_jobs, tmp_path):
    output = tmp_path / "out.csv"
    export = run_export("jobs", "--format", "csv", "--output", str(output))
    export_file = export.files.get()
    response = admin_client.get(download_url(export))
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    with default_storage.open(export_file.storage_name, "rb") as fh:
        assert content == fh.read() == output.read_bytes()
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == f'attachment; filename="{export_file.filename}"'
    assert response["Content-Length"] == str(export_file.size) == str(len(content))
    assert response["X-Checksum-SHA256"] == export_file.sha256


def test_download_of_each_file_of_a_multi_file_export(admin_client, some_jobs, settings):
    settings.EXPORTS_MAX_RECORDS_PER_FILE = 2
    export = run_export("jobs", "--format", "jsonl", "--compress")
    files = list(export.files.order_by("index"))
    assert len(files) == 3
    for export_file in files:
        response = admin_client.get(download_url(export, export_file.index))
        assert response["Content-Type"] == "application/gzip"
        with default_storage.open(export_file.storage_name, "rb") as fh:
            assert b"".join(response.streaming_content) == fh.read()
    assert admin_client.get(download_url(export, 4)).status_code == 404
    assert admin_client.get(download_url(export, 0)).status_code == 404


def test_download_of_a_file_missing_from_the_storage_is_a_404(admin_client, some_jobs):
    export = run_export("jobs", "--format", "csv")
    default_storage.delete(export.files.get().storage_name)
    assert admin_client.get(download_url(export)).status_code == 404
    assert admin_client.get(f"{CHANGELIST}00000000-0000-0000-0000-000000000000/download/1/") \
        .status_code == 404


@pytest.mark.parametrize("status", ["pending", "processing", "failed", "cancelled", "expired"])
def test_download_is_refused_unless_the_export_succeeded(admin_client, project, status):
    export = new_export(project, status)
    ExportFile.objects.create(export=export, index=1, storage_name="exports/x/y.csv",
                              filename="y.csv", size=1, records_count=1, sha256="0" * 64,
                              mime_type="text/csv")
    response = admin_client.get(download_url(export), follow=True)
    assert response.redirect_chain == [(change_url(export), 302)]
    reason = "its files were deleted" if status == "expired" \
        else "files can be downloaded once it succeeds"
    assert notes(response) == [("error", f"Export {short(export)} is {status}: {reason}.")]


def test_download_redirects_to_an_object_storage_url(admin_client, some_jobs, settings):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.InMemoryStorage",
        "OPTIONS": {"base_url": "https://files.example.com/"}}}
    export = run_export("jobs", "--format", "csv")
    export_file = export.files.get()
    assert default_storage.exists(export_file.storage_name)
    response = admin_client.get(download_url(export))
    assert response.status_code == 302
    assert response["Location"] == f"https://files.example.com/{export_file.storage_name}"


def test_download_needs_a_staff_session(client, some_jobs):
    export = run_export("jobs", "--format", "csv")
    response = client.get(download_url(export))
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


# --- re-run --------------------------------------------------------------------------------

def test_rerun_action_creates_new_exports_with_the_same_options(admin_client, project,
                                                                some_jobs):
    export = run_export("jobs", "--format", "csv", "--filter", "status=failed", "--fields",
                        "status", "--includes", "project", "--dry-data", "--compress",
                        "--reference", "nightly")
    Export.objects.filter(pk=export.pk).update(metadata={"ticket": "OPS-1"})
    response = act(admin_client, CHANGELIST, "rerun_exports", export)
    new = Export.objects.exclude(pk=export.pk).get()
    assert notes(response) == [("success", f"Started 1 new export ({short(new)}).")]
    assert new.status == "pending" and new.project_id == project.pk
    for name in ("resource_type", "format", "filters", "fields", "includes", "dry_data",
                 "compress", "reference", "mime_type"):
        assert getattr(new, name) == getattr(export, name), name
    assert new.metadata == {"ticket": "OPS-1"}
    admin = User.objects.get(username="admin")
    assert new.created_by_id == f"user:{admin.pk}"
    job = Job.objects.get(pk=new.job_id)
    assert job.job_class == "exports.build" and job.status == "pending"
    assert job.payload == {"export_id": str(new.pk)}
    history = admin_client.get(f"{CHANGELIST}{new.pk}/history/").content.decode()
    assert f"Re-run of export {export.pk}." in history


def test_rerun_reports_refusals_grouped_by_reason(admin_client, project, some_jobs):
    first = run_export("jobs", "--format", "csv")
    second = run_export("jobs", "--format", "jsonl")
    gone = new_export(project, "success", resource_type="no-such-type")
    response = act(admin_client, CHANGELIST, "rerun_exports", first, second, gone)
    (new,) = Export.objects.filter(status="pending")
    assert new.format in ("csv", "jsonl")
    refused_active = second if new.format == "csv" else first
    messages = notes(response)
    assert messages[0] == ("success", f"Started 1 new export ({short(new)}).")
    assert sorted(messages[1:]) == sorted([
        ("warning", f"Not re-run: 1 export ({short(refused_active)}): An export of jobs is "
                    "already pending or processing for this project; wait for it to finish."),
        ("warning", f"Not re-run: 1 export ({short(gone)}): Unknown resource type "
                    "'no-such-type'; exportable: exports, jobs, projects."),
    ])
    # Refused for every export: an error.
    response = act(admin_client, CHANGELIST, "rerun_exports", gone)
    assert [level for level, _ in notes(response)] == ["error"]


def test_rerun_button(admin_client, some_jobs):
    export = run_export("jobs", "--format", "csv")
    url = f"{CHANGELIST}{export.pk}/rerun/"
    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url, follow=True)
    new = Export.objects.get(status="pending")
    assert response.redirect_chain == [(change_url(new), 302)]
    assert notes(response) == [("success", f"Started 1 new export ({short(new)}).")]
    # Again, while the new one is pending: refused, back to the export's page.
    response = admin_client.post(url, follow=True)
    assert response.redirect_chain == [(change_url(export), 302)]
    assert [level for level, _ in notes(response)] == ["error"]
    assert Export.objects.count() == 2


# --- deletion ------------------------------------------------------------------------------

def test_delete_removes_the_files_from_the_storage(admin_client, some_jobs, settings):
    settings.EXPORTS_MAX_RECORDS_PER_FILE = 2
    export = run_export("jobs", "--format", "csv")
    names = stored(export)
    assert len(names) == 3 and all(default_storage.exists(name) for name in names)
    delete_url = f"{CHANGELIST}{export.pk}/delete/"
    assert admin_client.get(delete_url).status_code == 200
    response = admin_client.post(delete_url, {"post": "yes"})
    assert response.status_code == 302
    assert not Export.objects.filter(pk=export.pk).exists()
    assert not ExportFile.objects.exists()
    assert not any(default_storage.exists(name) for name in names)


@pytest.mark.parametrize("status", ["pending", "processing"])
def test_an_active_export_cannot_be_deleted(admin_client, project, status):
    export = new_export(project, status)
    assert_delete_refused(admin_client, CHANGELIST, export,
                          f"Export {short(export)} is {status} and cannot be deleted; cancel "
                          "its job first.")


def test_an_export_that_starts_while_being_deleted_is_kept(admin_client, project,
                                                           monkeypatch):
    from django.contrib.admin.models import DELETION, LogEntry

    export = new_export(project, "failed")
    real_delete = services.delete_export

    def started_first(obj):  # its job is retried between the page and the confirmation
        Export.objects.filter(pk=obj.pk).update(status="processing")
        real_delete(obj)

    monkeypatch.setattr(services, "delete_export", started_first)
    response = admin_client.post(f"{CHANGELIST}{export.pk}/delete/", {"post": "yes"},
                                 follow=True)
    assert response.redirect_chain == [(change_url(export), 302)]
    assert Export.objects.filter(pk=export.pk).exists()
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()  # rolled back


def test_bulk_delete_skips_active_exports_and_removes_files(admin_client, project, some_jobs):
    done = run_export("jobs", "--format", "csv")
    names = stored(done)
    failed = new_export(project, "failed", resource_type="projects")
    pending = new_export(project, "pending", resource_type="exports")
    confirmation = act(admin_client, CHANGELIST, "delete_selected", done, failed, pending)
    assert confirmation.status_code == 200
    assert {e.pk for e in confirmation.context["queryset"]} == {done.pk, failed.pk}
    assert not confirmation.context["perms_lacking"]
    assert notes(confirmation) == [
        ("warning", f"Skipped 1 pending or processing export ({short(pending)}): cancel their "
                    "jobs before deleting.")]
    response = act(admin_client, CHANGELIST, "delete_selected", done, failed, pending, post="yes")
    assert list(Export.objects.values_list("pk", flat=True)) == [pending.pk]
    assert ("success", "Successfully deleted 2 exports.") in notes(response)
    assert names and not any(default_storage.exists(name) for name in names)


def test_delete_queryset_keeps_an_export_that_became_active(project, rf):
    from django.contrib import admin

    from exports.admin import ExportAdmin

    export, other = new_export(project, "failed"), new_export(project, "cancelled",
                                                              resource_type="projects")
    queryset = Export.objects.filter(pk__in=[export.pk, other.pk])
    list(queryset)  # the confirmation page read them while failed
    Export.objects.filter(pk=export.pk).update(status="processing")
    sent = []
    model_admin = ExportAdmin(Export, admin.site)
    model_admin.message_user = lambda request, text, level: sent.append(text)
    model_admin.delete_queryset(rf.post(CHANGELIST), queryset)
    assert list(Export.objects.values_list("pk", flat=True)) == [export.pk]
    assert sent == ["Not deleted: 1 export became pending or processing meanwhile."]


# --- expiry, as the admin shows it -----------------------------------------------------------

def test_an_expired_export_has_no_download(admin_client, some_jobs):
    export = run_export("jobs", "--format", "csv")
    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    call_command("expire_exports", stdout=io.StringIO())
    html = admin_client.get(change_url(export)).content.decode()
    assert ">expired</span>" in html and download_url(export) not in html


# --- permissions ---------------------------------------------------------------------------

def test_view_permission_views_and_downloads_only(client, some_jobs):
    export = run_export("jobs", "--format", "csv")
    staff(client, "exports", "view_export")
    response = client.get(CHANGELIST)
    assert shown(response) == {export.pk}
    html = response.content.decode()
    assert "rerun_exports" not in html and "delete_selected" not in html
    page = client.get(change_url(export)).content.decode()
    assert export.files.get().sha256 in page  # the files inline, without its own permission
    assert "/rerun/" not in page and "/delete/" not in page
    assert client.get(download_url(export)).status_code == 200
    assert client.post(f"{CHANGELIST}{export.pk}/rerun/").status_code == 403
    act(client, CHANGELIST, "rerun_exports", export)
    assert Export.objects.count() == 1


def test_add_permission_allows_the_rerun(client, some_jobs):
    export = run_export("jobs", "--format", "csv")
    staff(client, "exports", "view_export", "add_export")
    assert "rerun_exports" in client.get(CHANGELIST).content.decode()
    assert "/rerun/" in client.get(change_url(export)).content.decode()
    act(client, CHANGELIST, "rerun_exports", export)
    assert Export.objects.count() == 2


def test_no_permission_no_download(client, some_jobs):
    export = run_export("jobs", "--format", "csv")
    staff(client, "exports")
    assert client.get(download_url(export)).status_code == 403
