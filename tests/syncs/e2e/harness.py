"""The end-to-end steps every provider test takes through the JSON:API: create a connection,
check it, create a sync, run it as a worker would, and read the warehouse table."""

from __future__ import annotations

from django.db import connection as db

from syncs.models import Sync
from tests.conftest import body
from tests.syncs.test_api import run_of, send, trigger


def read_all(source, entity, cursor=None, **kw):
    """Every record of a read, and the last checkpoint it reported."""
    records, reached = [], cursor
    for batch in source.read(entity, cursor=cursor, **kw):
        records.extend(batch.records)
        if batch.cursor is not None:
            reached = batch.cursor
    return records, reached


def assert_no_secret(secret: str, *texts) -> None:
    for text in texts:
        assert secret not in str(text), f"secret leaked in: {text!r}"


def log_text(caplog) -> str:
    """Captured logs of this process (the fake server's own access log excluded)."""
    return "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
                     if not r.name.startswith("werkzeug"))


def retry_gap(fake, path_part: str) -> float:
    """Seconds between the request answered 429 and the one after it."""
    times = [r["time"] for r in fake.data_requests(path_part)]
    return times[1] - times[0]


def create_connection(api, provider, config, secrets, name=None):
    response = api.send_document("post", "/api/v1/connections", "connections", {
        "provider": provider, "name": name or f"{provider} test", "config": config,
        "secrets": secrets})
    assert response.status_code == 201, response.content
    return body(response)["data"]


def create_sync(api, connection, entities, **attributes):
    response = send(api, "post", "/api/v1/syncs", "syncs",
                    {"name": f"{connection['attributes']['provider']} sync",
                     "entities": entities, "status": "active", **attributes},
                    {"connection": {"data": {"type": "connections", "id": connection["id"]}}})
    assert response.status_code == 201, response.content
    return body(response)["data"]


def run_sync(api, run_job, sync):
    run = run_of(trigger(api, sync))
    run_job(run.job_id)
    run.refresh_from_db()
    assert (run.status, run.result_class) == ("succeeded", "success"), (run.error, run.summary)
    return run


def table_of(sync, entity) -> str:
    return Sync.objects.get(pk=sync["id"]).table_bindings.get(
        entity_key=entity).physical_table_name


def column_values(table, column, order="id"):
    with db.cursor() as cursor:
        cursor.execute(f'SELECT "{column}" FROM "{table}" ORDER BY "{order}"')
        return [row[0] for row in cursor.fetchall()]
