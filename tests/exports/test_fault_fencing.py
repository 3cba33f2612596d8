"""An export build whose worker stalls past its heartbeat, once its files are published and
just before it lists them, while the job runs again elsewhere: the stale build, woken up,
neither lists, overwrites nor deletes the other build's files, nor changes the export."""

import signal
from pathlib import Path

import pytest

from exports.models import Export, ExportFile
from tests.conftest import body, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FAST = {"JOBS_HEARTBEAT_SECONDS": "0.2", "JOBS_HEARTBEAT_TIMEOUT_SECONDS": "2",
        "JOBS_POLL_SECONDS": "0.1"}


def stopped(process) -> bool:
    return Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


def test_a_stale_build_commits_nothing_and_keeps_its_hands_off(api, project, make_job,
                                                                media_storage, spawn_worker):
    for index in range(5):
        make_job(project, "exports.demo", payload={"n": index}, status="succeeded")
    response = api.send_document("post", "/api/v1/exports/export", "exports", {
        "resource_type": "jobs", "format": "jsonl", "filters": {"job_class": "exports.demo"}})
    assert response.status_code == 202, response.content
    export = Export.objects.get(pk=body(response)["data"]["id"])
    env = {**FAST, "MEDIA_ROOT": str(media_storage)}
    stale = spawn_worker("--burst", env={**env, "TEST_FAULT_STOP_BEFORE_EXPORT_COMMIT": "1"})
    wait_for(lambda: stopped(stale) or stale.poll() is not None, timeout=60)
    assert stale.poll() is None, stale.communicate()[0]
    stale_files = list(media_storage.rglob("*.jsonl"))
    assert len(stale_files) == 1  # published, not listed yet

    rescuer = spawn_worker(env=env)
    wait_for(lambda: Export.objects.filter(pk=export.pk, status="failed").exists(), timeout=30)
    export.refresh_from_db()
    assert export.errors_log == {"job": "heartbeat_timeout"}  # the reaped build fails it
    response = api.send_document("post", f"/api/v1/jobs/{export.job_id}/signal", "job-signals",
                                 {"signal": "retry"})
    assert response.status_code == 200, response.content
    wait_for(lambda: Export.objects.filter(pk=export.pk, status="success").exists(), timeout=30)
    (listed,) = ExportFile.objects.filter(export=export)
    assert stopped(stale)

    stale.send_signal(signal.SIGCONT)
    output, _ = stale.communicate(timeout=60)
    assert "lost" in output
    export.refresh_from_db()
    assert export.status == "success" and export.records_count == 5
    assert list(ExportFile.objects.filter(export=export)) == [listed]
    assert list(media_storage.rglob("*.jsonl")) == [media_storage / listed.storage_name]
    assert not any(path.exists() for path in stale_files)  # the stale build removed its own
    download = api.get(f"/api/v1/exports/{export.pk}/download")
    assert download.status_code == 200
    assert len(b"".join(download.streaming_content).splitlines()) == 5
    rescuer.send_signal(signal.SIGTERM)
    assert rescuer.wait(30) == 0
