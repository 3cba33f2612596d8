from django.db import connection as db

from syncs.models import SyncRun
from tests.conftest import body


def table_rows(name):
    with db.cursor() as cursor:
        cursor.execute(f'SELECT id, status FROM "{name}" ORDER BY id')
        return cursor.fetchall()


def test_trigger_runs_and_loads(api, make_sync, shop, run_job):
    sync = make_sync()
    response = api.send_document("post", f"/api/v1/syncs/{sync['id']}/trigger", "sync-triggers",
                                 {"run_mode": "incremental"})
    assert response.status_code == 202, response.content
    run = body(response)["data"]
    job_id = run["relationships"]["job"]["data"]["id"]
    run_job(job_id)
    row = SyncRun.objects.get(pk=run["id"])
    assert row.status == "succeeded", (row.error, row.summary)
    binding = row.sync.table_bindings.get()
    assert len(table_rows(binding.physical_table_name)) == 7
