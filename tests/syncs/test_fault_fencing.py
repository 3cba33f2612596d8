"""Exactly once under faults, with real worker processes on PostgreSQL: a worker stopped
(SIGSTOP) inside a batch's transaction past its heartbeat, a worker killed (SIGKILL) mid-load.
Each scenario runs with the warehouse in the main database and in a database of its own."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from werkzeug import Response

from syncs.models import Sync, SyncRun
from tests.conftest import body, is_postgres, wait_for
from tests.conftest import test_database_url as database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RECORDS = 1500
PAGE = 100  # 15 batches
STOP_AT = 6
# SYNCS_READ_AHEAD_ROWS: a write per page (read ahead, pages would merge into fewer writes),
# so the fault lands mid-run, with batches committed before it and after it.
FAST = {"JOBS_HEARTBEAT_SECONDS": "0.2", "JOBS_HEARTBEAT_TIMEOUT_SECONDS": "2",
        "JOBS_POLL_SECONDS": "0.1", "SYNCS_STALLED_TRANSACTION_TIMEOUT_SECONDS": "1",
        "SYNCS_READ_AHEAD_ROWS": str(PAGE)}
ROOT = Path(__file__).resolve().parents[2]
BASE = datetime(2026, 1, 1, tzinfo=UTC)


def updated_at(index: int) -> str:
    return (BASE + timedelta(seconds=index)).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventSource:
    """A paginated API of RECORDS events; each record carries how many times it was served
    (``version``), so a table holding an older version than the last one served shows an
    older value written over a newer one."""

    def __init__(self, server):
        self.served: dict[int, int] = {}
        self.lock = threading.Lock()
        server.expect_request("/events").respond_with_handler(self.events)

    def events(self, request):
        since = request.args.get("updated_since")
        page = int(request.args.get("page", 1))
        selected = [i for i in range(1, RECORDS + 1) if not since or updated_at(i) > since]
        chunk = selected[(page - 1) * PAGE: page * PAGE]
        with self.lock:
            for i in chunk:
                self.served[i] = self.served.get(i, 0) + 1
            data = [{"id": i, "updated_at": updated_at(i), "version": self.served[i]}
                    for i in chunk]
        return Response(json.dumps({"data": data}), content_type="application/json")


@pytest.fixture
def warehouse(request):
    """The warehouse: ``same`` (the main database) or ``separate`` (a database of its own,
    migrated like an operator would); yields (extra worker env, its psycopg URL)."""
    if not is_postgres():
        pytest.skip("fault tests with stalled transactions need PostgreSQL")
    main_url = database_url()
    if request.param == "same":
        yield {}, main_url
        return
    name = f"{main_url.rsplit('/', 1)[1]}_warehouse"
    url = f"{main_url.rsplit('/', 1)[0]}/{name}"
    admin = main_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {"WAREHOUSE_DATABASE_URL": url}
    subprocess.run([sys.executable, "manage.py", "migrate", "--database", "warehouse",
                    "--noinput"], cwd=ROOT, check=True, capture_output=True,
                   env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
                        "DATABASE_URL": main_url, **env})
    yield env, url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def events_sync(api, httpserver):
    source = EventSource(httpserver)
    response = api.send_document("post", "/api/v1/connections", "connections", {
        "provider": "http_api", "name": "events", "secrets": {"token": "t"},
        "config": {"base_url": httpserver.url_for("/"), "auth": {"type": "bearer"},
                   "pagination": {"type": "page_number", "page_size": PAGE},
                   "max_retries": 0,
                   "streams": [{"name": "events", "path": "/events",
                                "record_selector": "$.data", "primary_key": ["id"],
                                "cursor_field": "updated_at",
                                "cursor_param": "updated_since"}]}})
    assert response.status_code == 201, response.content
    connection_id = body(response)["data"]["id"]

    def make(load_mode: str) -> Sync:
        document = {"data": {"type": "syncs", "attributes": {
            "name": f"events {load_mode}", "entities": ["events"], "status": "active",
            "table_bindings": [{"entity_key": "events", "load_mode": load_mode,
                                "primary_key_columns": ["id"]}]},
            "relationships": {"connection": {"data": {"type": "connections",
                                                       "id": connection_id}}}}}
        response = api.post("/api/v1/syncs", data=json.dumps(document),
                            content_type="application/vnd.api+json")
        assert response.status_code == 201, response.content
        return Sync.objects.get(pk=body(response)["data"]["id"])

    return source, make


def trigger(api, sync: Sync, run_mode: str = "incremental") -> SyncRun:
    response = api.send_document("post", f"/api/v1/syncs/{sync.pk}/trigger", "sync-triggers",
                                 {"run_mode": run_mode})
    assert response.status_code in (200, 201, 202), response.content
    return SyncRun.objects.get(pk=body(response)["data"]["id"])


class Warehouse:
    def __init__(self, url: str, sync: Sync):
        self.url = url
        self.sync = sync
        self.table = sync.table_bindings.get().physical_table_name

    def query(self, sql: str, params=()):
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def counts(self) -> tuple[int, int]:
        return self.query(f'SELECT count(*), count(DISTINCT id) FROM "{self.table}"')[0]

    def versions(self) -> dict[int, int]:
        return dict(self.query(f'SELECT id, version FROM "{self.table}"'))

    def checkpoint(self):
        rows = self.query("SELECT cursor FROM syncs_syncstate WHERE sync_id = %s AND "
                          "entity_key = 'events'", [self.sync.pk])
        return rows[0][0] if rows else None


class CheckpointSampler(threading.Thread):
    """Reads the checkpoint every few milliseconds while the run goes on."""

    def __init__(self, warehouse: Warehouse):
        super().__init__(daemon=True)
        self.warehouse, self.seen, self.done = warehouse, [], threading.Event()

    def run(self):
        with psycopg.connect(self.warehouse.url, autocommit=True) as conn:
            while not self.done.is_set():
                row = conn.execute("SELECT cursor FROM syncs_syncstate WHERE sync_id = %s "
                                   "AND entity_key = 'events'", [self.warehouse.sync.pk]
                                   ).fetchone()
                if row and row[0] is not None:
                    self.seen.append(row[0])
                time.sleep(0.005)

    def stop(self) -> list:
        self.done.set()
        self.join(10)
        return self.seen


def stopped(process) -> bool:
    state = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state == "T"


def lock_waits(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                            "'Lock' AND datname = current_database()").fetchone()[0]


@pytest.mark.parametrize("warehouse", ["same", "separate"], indirect=True)
@pytest.mark.parametrize("load_mode, stall_timeout", [
    ("append_event", "1"), ("upsert", "1"),   # the server ends the stalled transaction
    ("append_event", "0"), ("upsert", "0"),   # it stays open: the fence alone decides
])
def test_a_stalled_worker_that_wakes_up_commits_nothing(api, events_sync, warehouse,
                                                        spawn_worker, load_mode,
                                                        stall_timeout):
    """The issue's scenario: the worker stops inside a batch's transaction, past the
    heartbeat timeout; a second worker resumes the run; then the first wakes up. Its batch
    must not commit: rows == distinct == source, the checkpoint never moves back, upserts
    keep the newest version, and the next incremental run reads nothing again.

    With SYNCS_STALLED_TRANSACTION_TIMEOUT_SECONDS the resume is bounded: it finishes while
    the first worker is still stopped. Without it, an upsert's resume waits on the stalled
    transaction's keys until that worker wakes — and then the stale batch must lose."""
    source, make = events_sync
    env, url = warehouse
    env = {**FAST, **env, "SYNCS_STALLED_TRANSACTION_TIMEOUT_SECONDS": stall_timeout}
    sync = make(load_mode)
    store = Warehouse(url, sync)
    first = trigger(api, sync)
    sampler = CheckpointSampler(store)
    sampler.start()
    stalled = spawn_worker("--burst", env={**env, "TEST_FAULT_STOP_IN_BATCH": str(STOP_AT)})
    wait_for(lambda: stopped(stalled) or stalled.poll() is not None, timeout=60)
    assert stalled.poll() is None, stalled.communicate()[0]
    rescuer = spawn_worker(env=env)
    started = time.monotonic()

    def resumed_run(*statuses):
        return SyncRun.objects.filter(attempt_root_run_id=first.pk, status__in=statuses).first()

    if stall_timeout == "0" and load_mode == "upsert":
        wait_for(lambda: resumed_run("running"), timeout=60)
        wait_for(lambda: lock_waits(url), timeout=30)  # blocked on the stalled keys
        assert resumed_run("succeeded", "failed") is None
        stalled.send_signal(signal.SIGCONT)
    resumed = wait_for(lambda: resumed_run("succeeded", "failed"), timeout=90)
    assert resumed.status == "succeeded", (resumed.error, resumed.summary)
    assert time.monotonic() - started < 60
    if stall_timeout != "0" or load_mode == "append_event":
        assert stopped(stalled), "the first worker must still be stopped: the resume is bounded"
    first.refresh_from_db()
    assert (first.status, first.result_reason_code) == ("failed", "heartbeat_timeout")
    assert resumed.triggered_by == "auto_resume" and resumed.fence_token > first.fence_token
    summary = first.summary

    stalled.send_signal(signal.SIGCONT)
    output, _ = stalled.communicate(timeout=60)  # --burst: it ends once it gave up its job
    assert store.counts() == (RECORDS, RECORDS), output
    if load_mode == "upsert":
        assert store.versions() == source.served  # never an older value over a newer one
    checkpoints = sampler.stop()
    assert checkpoints == sorted(checkpoints), "the checkpoint moved back"
    assert store.checkpoint() == updated_at(RECORDS)
    first.refresh_from_db()
    assert (first.status, first.summary) == ("failed", summary)  # history left as it was

    again = trigger(api, sync)
    again = wait_for(lambda: SyncRun.objects.filter(pk=again.pk, status="succeeded").first(),
                     timeout=60)
    assert again.summary["rows_written"] == 0
    assert store.counts() == (RECORDS, RECORDS)
    rescuer.send_signal(signal.SIGTERM)
    assert rescuer.wait(30) == 0


@pytest.mark.parametrize("warehouse", ["same", "separate"], indirect=True)
@pytest.mark.parametrize("run_mode", ["incremental", "full_refresh"])
def test_a_worker_killed_mid_batch_is_resumed_exactly_once(api, events_sync, warehouse,
                                                           spawn_worker, run_mode):
    """kill -9 inside a batch's transaction: the next attempt resumes (incremental: from the
    last committed batch; full refresh: anew, into a fresh staging table) and every source
    row is in the table exactly once."""
    _, make = events_sync
    env, url = warehouse
    sync = make("append_event")
    store = Warehouse(url, sync)
    if run_mode == "full_refresh":  # a table to replace
        trigger(api, sync)
        spawn_worker("--burst", env={**FAST, **env}).communicate(timeout=120)
        assert store.counts() == (RECORDS, RECORDS)
    first = trigger(api, sync, run_mode)
    killed = spawn_worker("--burst", env={**FAST, **env, "TEST_FAULT_KILL_IN_BATCH": str(STOP_AT)})
    assert killed.wait(60) == -signal.SIGKILL
    rescuer = spawn_worker(env={**FAST, **env})
    resumed = wait_for(lambda: SyncRun.objects.filter(
        attempt_root_run_id=first.pk, status__in=["succeeded", "failed"]).first(), timeout=90)
    assert resumed.status == "succeeded", (resumed.error, resumed.summary)
    assert resumed.run_mode == run_mode
    assert store.counts() == (RECORDS, RECORDS)
    assert store.checkpoint() == updated_at(RECORDS)
    rescuer.send_signal(signal.SIGTERM)
    assert rescuer.wait(30) == 0
