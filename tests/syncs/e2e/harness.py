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


def check_status(api, connection) -> tuple[str, str]:
    """The connection's check through the API: (status, error)."""
    response = api.post(f"/api/v1/connections/{connection['id']}/check")
    attributes = body(response)["data"]["attributes"]
    return attributes["last_check_status"], attributes["last_check_error"] or ""


def connect(api, provider, config, secrets, wrong_secrets, rejected: str):
    """The auth handshake through the API: a connection with wrong credentials fails its
    check with ``rejected`` in the message (the fake refused them); the right ones pass."""
    wrong = create_connection(api, provider, config, wrong_secrets, name=f"{provider} wrong")
    status, error = check_status(api, wrong)
    assert status == "failed" and rejected in error, error
    connection = create_connection(api, provider, config, secrets)
    status, error = check_status(api, connection)
    assert status == "ok", error
    return connection


def throttled_run(api, run_job, fake, sync, path_part: str):
    """A run whose first request to ``path_part`` is answered 429 with Retry-After: 1: the
    run waits that second, asks again and succeeds."""
    fake.requests.clear()
    fake.throttle_next = 1
    run = run_sync(api, run_job, sync)
    assert fake.throttle_next == 0, "the fake was never asked"
    assert retry_gap(fake, path_part) >= 0.95
    return run


def table_rows(sync, entity, columns: list[str], order: str = "id") -> list[tuple]:
    """The warehouse rows of ``entity``'s table: ``columns`` ordered by ``order``."""
    table = table_of(sync, entity)
    selected = ", ".join(f'"{c}"' for c in columns)
    with db.cursor() as cursor:
        cursor.execute(f'SELECT {selected} FROM "{table}" ORDER BY "{order}"')
        return [tuple(row) for row in cursor.fetchall()]
