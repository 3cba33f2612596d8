"""Expiry at read time: from ``expires_at`` on, an export reads ``expired`` wherever it is
read (detail, list, ``filter[status]``, the admin, exports of exports, on the fast JSON:API
path and the stock one) and its download is 410, before any sweep; the sweep deletes the
files (one export at a time: one the storage refuses never stops it)."""

import json
import logging
import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import FileSystemStorage, default_storage
from django.utils import timezone
from prometheus_client import REGISTRY

from exports import services
from exports.models import Export, ExportFile
from syncservice.jsonapi.errors import Gone
from tests.conftest import body, error_of

pytestmark = pytest.mark.usefixtures("media_storage")

CHANGELIST = "/admin/exports/export/"


def build(api, run_job, resource_type: str = "jobs", **attributes) -> Export:
    response = api.send_document("post", "/api/v1/exports/export", "exports",
                                 {"resource_type": resource_type, "format": "csv",
                                  **attributes})
    assert response.status_code == 202, response.content
    export = Export.objects.get(pk=body(response)["data"]["id"])
    run_job(export.job_id)
    export.refresh_from_db()
    assert export.status == "success", export.errors_log
    return export


def expire(export: Export) -> None:
    """Past expires_at, as time would make it: the row is not touched otherwise."""
    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def storage_names(export: Export) -> list[str]:
    return [f.storage_name for f in ExportFile.objects.filter(export_id=export.pk)]


@pytest.fixture
def expired_and_fresh(api, run_job, make_job, project):
    make_job(project, "exports.demo")
    expired, fresh = build(api, run_job, "jobs"), build(api, run_job, "projects")
    expire(expired)
    assert Export.objects.get(pk=expired.pk).status == "success"  # stored: not yet
    return expired, fresh


def ids(response) -> set[str]:
    return {item["id"] for item in body(response)["data"]}


READS = {
    "detail": lambda api, e: body(api.get(f"/api/v1/exports/{e.pk}"))["data"]["attributes"],
    "list": lambda api, e: next(
        item["attributes"] for item in body(api.get("/api/v1/exports"))["data"]
        if item["id"] == str(e.pk)),
    "filter": lambda api, e: {"status": "expired", "attachment_url": None} if ids(
        api.get("/api/v1/exports?filter[status]=expired")) == {str(e.pk)} else {},
    "filter_in": lambda api, e: {"status": "expired", "attachment_url": None} if ids(
        api.get("/api/v1/exports?filter[status__in]=expired,failed")) == {str(e.pk)} else {},
}


@pytest.mark.parametrize("fast_path", [True, False])
@pytest.mark.parametrize("read", sorted(READS))
def test_the_first_read_after_expires_at_says_expired(api, settings, expired_and_fresh,
                                                      fast_path, read):
    settings.JSONAPI_FAST_PATH = fast_path
    expired, fresh = expired_and_fresh
    attributes = READS[read](api, expired)
    assert attributes["status"] == "expired" and attributes["attachment_url"] is None
    assert ids(api.get("/api/v1/exports?filter[status]=success")) == {str(fresh.pk)}
    assert ids(api.get("/api/v1/exports?filter[status__in]=success,expired")) == {
        str(expired.pk), str(fresh.pk)}
    error_of(api.get(f"/api/v1/exports/{expired.pk}/download"), 410)
    # Reads only change the status: the files are the sweep's.
    assert all(default_storage.exists(name) for name in storage_names(expired))


@pytest.mark.parametrize("fast_path", [True, False])
def test_the_download_is_410_at_once(api, settings, expired_and_fresh, fast_path):
    settings.JSONAPI_FAST_PATH = fast_path
    expired, fresh = expired_and_fresh
    error = error_of(api.get(f"/api/v1/exports/{expired.pk}/download"), 410)
    assert error["code"] == "gone" and "expired" in error["detail"]
    assert Export.objects.get(pk=expired.pk).status == "expired"
    assert api.get(f"/api/v1/exports/{fresh.pk}/download").status_code == 200


def test_fast_and_stock_paths_serve_the_same_expired_document(api, settings,
                                                              expired_and_fresh):
    expired, _ = expired_and_fresh
    documents = []
    for fast_path in (True, False):
        settings.JSONAPI_FAST_PATH = fast_path
        documents.append(api.get("/api/v1/exports?included=files&sort=status").content)
    assert documents[0] == documents[1]
    assert b'"expired"' in documents[0]


def test_a_stale_row_in_memory_is_still_410(expired_and_fresh):
    """The download check reads expires_at too, not only the status a read stored."""
    expired, _ = expired_and_fresh
    row = Export.objects.get(pk=expired.pk)
    assert row.status == "success"
    with pytest.raises(Gone):
        services.file_for_download(row, None)


def test_the_sweep_only_deletes_files(api, expired_and_fresh):
    expired, fresh = expired_and_fresh
    names = storage_names(expired)
    assert names and all(default_storage.exists(name) for name in names)
    api.get(f"/api/v1/exports/{expired.pk}")  # a read marked it expired already
    assert services.expire_exports() == [expired.pk]
    assert not any(default_storage.exists(name) for name in names)
    assert not ExportFile.objects.filter(export_id=expired.pk).exists()
    row = Export.objects.get(pk=expired.pk)
    assert row.status == "expired" and row.records_count is not None  # the record stays
    assert services.expire_exports() == []
    assert Export.objects.get(pk=fresh.pk).status == "success"
    assert all(default_storage.exists(name) for name in storage_names(fresh))


def test_the_sweep_persists_the_status_when_nothing_read_it(expired_and_fresh):
    expired, _ = expired_and_fresh
    assert services.expire_exports() == [expired.pk]
    assert Export.objects.get(pk=expired.pk).status == "expired"


def test_one_export_the_storage_refuses_never_stops_the_sweep(api, run_job, project, make_job,
                                                            monkeypatch, caplog):
    make_job(project, "exports.demo")
    stuck, other = build(api, run_job, "jobs"), build(api, run_job, "projects")
    expire(stuck)
    expire(other)
    stuck_names = set(storage_names(stuck))
    real_delete = FileSystemStorage.delete

    def delete(storage, name):
        if name in stuck_names:
            raise OSError("storage unavailable")
        return real_delete(storage, name)

    monkeypatch.setattr(FileSystemStorage, "delete", delete)
    key = {"sweep": "exports.expire", "reason": "OSError"}
    before = REGISTRY.get_sample_value("periodic_sweep_errors_total", key) or 0
    with caplog.at_level(logging.WARNING, logger="exports"):
        assert services.expire_exports() == [other.pk]
    assert REGISTRY.get_sample_value("periodic_sweep_errors_total", key) == before + 1
    (record,) = [r for r in caplog.records if getattr(r, "task", None) == "exports.expire"]
    assert record.export_id == str(stuck.pk)
    assert set(storage_names(stuck)) == stuck_names  # kept, to be tried again
    assert Export.objects.get(pk=stuck.pk).status == "expired"  # it reads expired all the same
    monkeypatch.undo()
    assert services.expire_exports() == [stuck.pk]
    assert not any(default_storage.exists(name) for name in stuck_names)


def test_exports_of_exports_read_expired(project, run_job, expired_and_fresh):
    expired, fresh = expired_and_fresh
    export = services.create_export(project, services.ExportRequest(resource_type="exports",
                                                                    format="jsonl"))
    assert Export.objects.get(pk=expired.pk).status == "success"  # nothing read it yet
    run_job(export.job_id)
    (export_file,) = ExportFile.objects.filter(export_id=export.pk)
    with default_storage.open(export_file.storage_name, "rb") as fh:
        rows = {row["id"]: row for row in map(json.loads, fh.read().splitlines())}
    assert rows[str(expired.pk)]["status"] == "expired"
    assert rows[str(fresh.pk)]["status"] == "success"


def test_the_admin_shows_expired_at_once(client, expired_and_fresh):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    expired, _ = expired_and_fresh
    html = client.get(f"{CHANGELIST}{expired.pk}/change/").content.decode()
    assert ">expired</span>" in html
    assert f"{CHANGELIST}{expired.pk}/download/1/" not in html
    response = client.get(f"{CHANGELIST}{expired.pk}/download/1/", follow=True)
    assert response.redirect_chain[-1][0] == f"{CHANGELIST}{expired.pk}/change/"
    assert any("expired" in str(m) for m in response.context["messages"])


@pytest.mark.django_db(transaction=True)
def test_concurrent_readers_expire_each_export_once_without_errors(project):
    """Readers racing over the same due rows: no deadlock, no error, every row expired."""
    now = timezone.now()
    Export.objects.bulk_create([
        Export(project=project, resource_type=f"type-{index}", format="csv", status="success",
               expires_at=now - timedelta(seconds=index)) for index in range(60)])
    barrier, errors, counts = threading.Barrier(6), [], []

    def reader():
        from django.db import connection

        try:
            barrier.wait(10)
            counts.append(services.expire_due())
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sum(counts) == 60
    assert set(Export.objects.values_list("status", flat=True)) == {"expired"}
