from datetime import timedelta

import pytest
from django.utils import timezone

from exports.models import Export, ExportFile
from syncs import services as sync_services
from syncs.models import Connection, SyncRun
from syncs.secrets import encrypt
from tests.testapp.models import Author, Book, Chapter


@pytest.fixture(autouse=True)
def testapp_urls(settings):
    """Serve the test-only `books` collection beside the service's own routes."""
    settings.ROOT_URLCONF = "tests.testapp.urls"

BASE_TIME = timezone.now().replace(microsecond=0) - timedelta(days=30)


@pytest.fixture
def library(project):
    """Two authors, 12 books (pages 10..120), 2 chapters each, in ``project``."""
    ada = Author.objects.create(project=project, name="Ada")
    bob = Author.objects.create(project=project, name="Bob")
    books = []
    for index in range(12):
        book = Book.objects.create(
            project=project, author=ada if index % 2 == 0 else bob,
            title=f"Book {index:02d}", pages=(index + 1) * 10,
            genre="novel" if index < 8 else "essay",
            published_at=BASE_TIME + timedelta(days=index))
        for number in (1, 2):
            Chapter.objects.create(book=book, title=f"Chapter {number}", number=number)
        books.append(book)
    return books


HTTP_SHOP = {
    "base_url": "http://127.0.0.1:9/", "auth": {"type": "bearer"},
    "pagination": {"type": "page_number", "page_size": 3}, "check_path": "/ping",
    "max_retries": 0,
    "streams": [
        {"name": "orders", "path": "/orders", "record_selector": "$.data",
         "primary_key": ["id"], "cursor_field": "updated_at", "cursor_param": "updated_since"},
        {"name": "customers", "path": "/customers", "record_selector": "$.data",
         "primary_key": ["id"], "cursor_field": "updated_at", "cursor_param": "updated_since"},
    ],
}


@pytest.fixture
def world(project, other_project, make_job, library):
    """Rows behind every list endpoint, in the caller's project and another one."""
    now = timezone.now()
    jobs = []
    for index in range(6):
        status = ["succeeded", "failed", "pending", "running", "cancelled", "succeeded"][index]
        jobs.append(make_job(
            project if index != 5 else None, f"demo.kind{index % 2}", status=status,
            priority=index, progress=index * 10, payload={"n": index, "nested": {"a": [1, 2]}},
            error="boom" if status == "failed" else "",
            error_details={"trace": ["x"]} if status == "failed" else None,
            result={"rows": index} if status == "succeeded" else None,
            started_at=now - timedelta(minutes=index, microseconds=index * 7),
            finished_at=(now.replace(microsecond=0) if status in ("succeeded", "failed")
                         else None),
            created_by_id=f"key:{index}" if index % 2 else None))
    make_job(other_project, "demo.other")

    exports = []
    for index, status in enumerate(["success", "failed", "success", "expired"]):
        export = Export.objects.create(
            project=project, job=jobs[index] if index != 3 else None,
            resource_type=["jobs", "exports", "jobs", "exports"][index], format="csv",
            status=status, filters={"status": "failed"} if index else {},
            fields=["id"], records_count=10 * index or None, size=1000 + index,
            filename=f"e{index}.csv", mime_type="text/csv", started_at=now,
            completed_at=now if status == "success" else None, metadata={"i": index},
            reference=f"ref-{index}")
        for number in range(1, 1 + (index % 3)):
            ExportFile.objects.create(export=export, index=number,
                                      storage_name=f"x/{export.pk}/{number}",
                                      filename=f"e{index}-{number}.csv", size=number,
                                      records_count=number, sha256="0" * 64,
                                      mime_type="text/csv")
        exports.append(export)
    Export.objects.create(project=other_project, resource_type="jobs", format="csv",
                          status="success")

    connections = [
        Connection.objects.create(project=project, provider="http_api", name=name,
                                  config=HTTP_SHOP, secrets_encrypted=encrypt(secrets))
        for name, secrets in (("shop", {"token": "t", "extra": "e"}), ("empty", {}))]
    syncs = []
    for index, connection in enumerate(connections):
        sync = sync_services.create_sync(project, {
            "name": f"Sync {index}", "connection": connection, "status": "active",
            "entities": ["orders", "customers"] if index == 0 else ["orders"]})
        syncs.append(sync)
    sync_services.create_sync(project, {"name": "No runs", "connection": connections[0],
                                        "entities": ["customers"]})
    first = sync_services.trigger(syncs[0])
    SyncRun.objects.filter(pk=first.pk).update(status="failed", error="boom")
    sync_services.retry_run(SyncRun.objects.get(pk=first.pk))
    sync_services.trigger(syncs[1])
    return {"jobs": jobs, "exports": exports, "connections": connections, "syncs": syncs,
            "runs": list(SyncRun.objects.all()), "books": library,
            "project": project}
