"""``manage.py run_sync``: trigger (prints the run id), --wait (runs it here, with per-entity
progress, fan-out children included), failures, timeouts, Ctrl-C and refusals."""

import io
import os
import signal
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db

from jobs.models import Job
from syncs import services
from syncs.models import Sync, SyncRun
from tests.conftest import wait_for


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_sync(*args: str, stderr=None) -> tuple[str, str]:
    out, err = io.StringIO(), stderr or io.StringIO()
    call_command("run_sync", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def table_count(sync_id, entity: str = "orders") -> int:
    binding = Sync.objects.get(pk=sync_id).table_bindings.get(entity_key=entity)
    with db.cursor() as cursor:
        cursor.execute(f'SELECT COUNT(*) FROM "{binding.physical_table_name}"')
        return cursor.fetchone()[0]


# --- without --wait -------------------------------------------------------------------------

def test_trigger_prints_the_run_id(make_sync):
    sync = make_sync()
    out, err = run_sync("shop-orders")
    run = SyncRun.objects.get()
    assert out.strip() == str(run.pk)
    assert str(run.sync_id) == sync["id"]
    assert (run.status, run.triggered_by, run.run_mode) == ("pending", "manual", "incremental")
    job = Job.objects.get(pk=run.job_id)
    assert (job.status, job.created_by_id) == ("pending", "cli")  # left to the workers
    assert "pending" in err
    with pytest.raises(CommandError, match="already pending or running"):
        run_sync("shop-orders")


def test_run_mode_and_project(make_sync):
    make_sync()
    out, _ = run_sync("shop-orders", "--project", "acme", "--run-mode", "full_refresh")
    assert SyncRun.objects.get(pk=out.strip()).run_mode == "full_refresh"


def test_refusals(make_sync, other_project, shop_config):
    make_sync(status="draft")
    with pytest.raises(CommandError, match="No sync with slug 'nope'"):
        run_sync("nope")
    with pytest.raises(CommandError, match="No project named 'nowhere'"):
        run_sync("shop-orders", "--project", "nowhere")
    with pytest.raises(CommandError, match="No sync with slug 'shop-orders' in project "
                                           "'globex'"):
        run_sync("shop-orders", "--project", "globex")
    with pytest.raises(CommandError, match="A draft sync cannot be triggered"):
        run_sync("shop-orders")
    Sync.objects.filter(slug="shop-orders").update(status="archived")
    with pytest.raises(CommandError, match="An archived sync cannot be triggered"):
        run_sync("shop-orders")
    with pytest.raises(CommandError, match="--timeout goes with --wait"):
        run_sync("shop-orders", "--timeout", "5")
    assert not SyncRun.objects.exists()
    # The same slug in two projects: --project says which.
    other = services.create_connection(other_project, provider="http_api", name="shop",
                                       config=shop_config, secrets={"token": "good-token"})
    services.create_sync(other_project, {"name": "Shop orders", "connection": other,
                                         "entities": ["orders"], "status": "active"})
    with pytest.raises(CommandError, match=r"Several projects .* \(acme, globex\)"):
        run_sync("shop-orders")
    out, _ = run_sync("shop-orders", "--project", "globex")
    assert SyncRun.objects.get(pk=out.strip()).project_id == other_project.pk


# --- --wait ---------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_wait_runs_the_sync_here(make_sync, shop):
    sync = make_sync(entities=["orders", "customers"])
    out, err = run_sync("shop-orders", "--project", "acme", "--wait")
    run = SyncRun.objects.get()
    assert (run.status, run.result_class) == ("succeeded", "success"), out
    job = Job.objects.get(pk=run.job_id)
    assert job.status == "succeeded" and job.worker_id.startswith("cli:")
    assert run.executor_id == job.worker_id
    assert table_count(sync["id"]) == 7 and table_count(sync["id"], "customers") == 3
    assert f"Run {run.pk} succeeded (success)" in out
    assert "10 rows read, 10 written" in out
    assert "  orders: succeeded 7 read / 7 written, cursor 2026-01-07T00:00:00Z" in out
    assert "  customers: succeeded 3 read / 3 written" in out
    # Progress lines (no terminal: printed when they change), ending with the final state.
    assert "orders: succeeded 7 read / 7 written" in err
    assert Sync.objects.get(pk=sync["id"]).last_success_at is not None
    # Incremental next time: from the checkpoint.
    run_sync("shop-orders", "--wait")
    assert shop.order_requests()[-1]["updated_since"] == "2026-01-07T00:00:00Z"
    assert table_count(sync["id"]) == 7


@pytest.mark.django_db(transaction=True)
def test_wait_full_refresh_with_a_terminal(make_sync, shop):
    sync = make_sync()
    run_sync("shop-orders", "--wait", "--no-progress")
    terminal = Terminal()
    out, _ = run_sync("shop-orders", "--wait", "--run-mode", "full_refresh", stderr=terminal)
    assert "updated_since" not in shop.order_requests()[-1]
    assert table_count(sync["id"]) == 7
    assert "orders: succeeded 7 read / 7 written" in terminal.getvalue()  # tqdm status line
    assert SyncRun.objects.filter(run_mode="full_refresh", status="succeeded").count() == 1


@pytest.mark.django_db(transaction=True)
def test_wait_runs_the_fan_out_children_too(make_sync, shop):
    sync = make_sync(entities=["orders", "customers"], execution_mode="fan_out_entity")
    out, _ = run_sync("shop-orders", "--wait")
    run = SyncRun.objects.get()
    assert run.status == "succeeded", (out, run.summary)
    children = Job.objects.filter(unicity__startswith=f"sync-run:{run.pk}:")
    assert children.count() == 2
    assert {(c.status, c.worker_id.startswith("cli:")) for c in children} == {
        ("succeeded", True)}
    assert table_count(sync["id"]) == 7 and table_count(sync["id"], "customers") == 3


@pytest.mark.django_db(transaction=True)
def test_a_failing_source_exits_non_zero(make_sync, shop):
    make_sync()
    shop.fail_status = 500
    with pytest.raises(CommandError, match=r"failed \(failed\): orders: .*500") as raised:
        run_sync("shop-orders", "--wait")
    assert raised.value.returncode == 1
    run = SyncRun.objects.get()
    assert (run.status, run.result_class) == ("failed", "failed")
    assert Sync.objects.get().status == "error"
    # In error, a sync may still be triggered (to recover).
    shop.fail_status = None
    out, _ = run_sync("shop-orders", "--wait")
    assert "succeeded (success)" in out
    assert Sync.objects.get().status == "active"


@pytest.mark.django_db(transaction=True)
def test_timeout_cancels_the_run(make_sync, shop):
    make_sync()
    shop.page_delay = 1.0  # the run would take 3 s; it is cancelled at its first batch
    with pytest.raises(CommandError, match=r"did not finish within 0.3s"):
        run_sync("shop-orders", "--wait", "--timeout", "0.3")
    run = SyncRun.objects.get()
    assert (run.status, run.result_class) == ("cancelled", "cancelled")
    assert run.cancel_requested_by == "cli" and "--timeout" in run.cancel_reason
    assert run.summary["entities"]["orders"]["rows_written"] < 7


@pytest.mark.django_db(transaction=True)
def test_ctrl_c_cancels_the_run_at_the_next_batch(make_sync, shop):
    make_sync()
    shop.gate = threading.Event()

    def press_ctrl_c():
        assert shop.gate_reached.wait(10)  # page 1 written, page 2 being read
        os.kill(os.getpid(), signal.SIGINT)
        wait_for(lambda: Job.objects.filter(cancel_requested_at__isnull=False).exists(),
                 timeout=10)
        shop.gate.set()
        db.close()

    thread = threading.Thread(target=press_ctrl_c)
    thread.start()
    try:
        with pytest.raises(CommandError, match="cancelled"):
            run_sync("shop-orders", "--wait")
    finally:
        shop.gate.set()
        thread.join(10)
    run = SyncRun.objects.get()
    assert (run.status, run.result_class) == ("cancelled", "cancelled")
    assert run.summary["entities"]["orders"]["rows_written"] == 3  # page 1 only
