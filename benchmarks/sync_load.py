"""Sync load throughput and memory: records from a local source upserted into PostgreSQL by
``syncs.loading.TableLoader``, against a plain ``COPY`` of the same rows in the same run.

    .venv/bin/python benchmarks/sync_load.py [--rows 1000000] [--small-rows 300000]
        [--batch 5000] [--repeat 1] [--modes idle,copy,insert,update,change]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_sync_load]
        [--record benchmarks/sync_load.md]
    # another checkout's loader (e.g. an earlier commit in a worktree) in the same run:
    #   --modes idle,copy,insert,update,change,other-insert,other-update,other-change \
    #   --other-root /tmp/old

The script drops and creates its own database (its name must contain "bench_sync_load"),
runs ``manage.py migrate`` on it in a subprocess, sets Django up in-process on it and creates a
project, a connection, a sync and an upsert ``TableBinding`` (primary key ``id``). The source
is a generator of ``--rows`` realistic records (id, ISO ``updated_at``, status, amount, currency,
quantity, paid, email, a ``customer`` object, a ``tags`` list, an often-null note) yielded as
``Batch`` es of ``--batch`` records, as a connector's ``Source.read`` does. Then, each in a
fresh process (times exclude process start and Django setup; the records are generated inside
the timed loop in every mode):

- ``copy``: the baseline. One ``COPY … FROM STDIN`` (psycopg 3 ``cursor.copy``, text format) of
  the same rows into a plain table (no index) with the same columns and column types as the
  loader's table (``_record``, ``_synced_at``, ``_run_id`` included), each value formatted as the
  loader formats it (orjson for objects, lists and ``_record``), one transaction;
- ``insert``: ours into an empty table: ``TableLoader.begin()`` then ``write(records, cursor)``
  per batch (one transaction per batch with the ``SyncState`` checkpoint, as ``run_task``
  does), then ``finish()``;
- ``update``: ours again with the same records: every record meets its key, unchanged;
- ``change``: ours with every record changed (a later ``updated_at``, another ``status``):
  every row is rewritten by the ``ON CONFLICT DO UPDATE``.

Peak RSS is each process's ``ru_maxrss`` (``os.wait4``); ``idle`` is a process that only sets
Django up. The whole series runs for ``--small-rows`` (0 skips) and ``--rows``, to show that
memory does not grow with the row count. Client CPU is the child's ``process_time``; server CPU
is its PostgreSQL backend's (``/proc/<pg_backend_pid()>/stat``; not the WAL writer,
checkpointer or autovacuum); "vs COPY (CPU)" compares their sums (medians), which a machine
shared with other work blurs less than the wall times. After each run the table is checked:
its row count and distinct ids, that its columns and types are the baseline table's, the
checkpoint, and (``change``) that every row holds the changed record.

``--modes`` picks the modes (in order), ``--repeat`` how many rounds of them. The modes
``other-insert``, ``other-update`` and ``other-change`` are those three through the
``syncs/loading/loader.py`` of ``--other-root`` (another checkout, loaded as a module in the
child process; the models and the rest of the service are this checkout's).
``--record FILE`` writes the results table between markers in ``FILE`` (keeping the rest).
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import os
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PYTHON = sys.executable
BASELINE_TABLE = "bench_copy"
ENTITY = "orders"
RUN_ID = "00000000-0000-0000-0000-0000000000b1"
CHILD_TIMEOUT = 1200.0
OURS = ("insert", "update", "change", "other-insert", "other-update", "other-change")
GOAL = 0.5  # ours/COPY rows/s, inserts and updates alike (issue 18, "Loads")
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_sync_load"

sys.path.insert(0, str(ROOT))

from benchmarks import _database  # noqa: E402 - after the path is set
from benchmarks._database import child_env  # noqa: E402
from benchmarks._machine import machine  # noqa: E402
from benchmarks._records import replace_results  # noqa: E402

# --- the source -----------------------------------------------------------------------------

STATUSES = ("pending", "paid", "shipped", "delivered", "refunded")
COUNTRIES = ("US", "DE", "FR", "GB", "NL", "ES", "IT", "CA")
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken")
TAGS = ("gift", "vip", "wholesale", "repeat", "promo")
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def make_record(i: int, changed: bool = False) -> dict:
    """One order as an API would return it (about 260 bytes of JSON); ``changed``: the same
    order later (a new ``updated_at`` and ``status``: every row of the table changes)."""
    customer = i % 50_000
    updated = EPOCH + dt.timedelta(days=365 if changed else 0, seconds=i * 3,
                                   microseconds=(i * 7919) % 1_000_000)
    return {
        "id": i,
        "updated_at": updated.isoformat().replace("+00:00", "Z"),
        "status": STATUSES[(i + changed) % 5],
        "amount": ((i * 7919) % 1_000_000) / 100.0,
        "currency": "EUR" if i % 3 == 0 else "USD",
        "quantity": i % 7 + 1,
        "paid": i % 4 != 0,
        "email": f"customer{customer}@example.com",
        "customer": {"id": customer, "name": f"{FIRST_NAMES[customer % 8]} {customer}",
                     "country": COUNTRIES[customer % 8], "accepts_marketing": customer % 2 == 0},
        "tags": list(TAGS[:i % 4]),
        "note": "Leave at the door, \"please\"\n(back entrance)" if i % 4 == 0 else None,
    }


class LocalSource:
    """A connector-like source (``syncs.connectors.Source``) reading generated records."""

    def __init__(self, rows: int, batch_size: int, changed: bool = False) -> None:
        self.rows = rows
        self.batch_size = batch_size
        self.changed = changed

    def check(self) -> None:
        return None

    def read(self, entity: str, *, cursor=None, window=None, entity_config=None):
        from syncs.connectors import Batch

        for start in range(1, self.rows + 1, self.batch_size):
            records = [make_record(i, self.changed)
                       for i in range(start, min(start + self.batch_size, self.rows + 1))]
            yield Batch(records=records, cursor=records[-1]["updated_at"])


# The columns (and PostgreSQL types) TableLoader creates for these records, in its order.
COLUMNS = {"id": "bigint", "updated_at": "text", "status": "text", "amount": "double precision",
           "currency": "text", "quantity": "bigint", "paid": "boolean", "email": "text",
           "customer": "jsonb", "tags": "jsonb", "note": "text", "_record": "jsonb",
           "_synced_at": "timestamp with time zone", "_run_id": "text"}


# --- the database ---------------------------------------------------------------------------

def recreate_database(url: str) -> None:
    _database.recreate_database(url, "bench_sync_load")
    _database.migrate(child_env(url))


def setup_django(url: str) -> None:
    for key, value in child_env(url).items():
        if key in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DEBUG"):
            os.environ[key] = value
    os.environ.pop("WAREHOUSE_DATABASE_URL", None)
    import django

    django.setup()


def create_binding() -> str:
    """A project, a connection, a sync and its upsert binding; returns the binding's id."""
    from syncs.models import Connection, Sync, TableBinding
    from syncs.services import physical_name
    from syncservice.accounts.models import Project

    project = Project.objects.create(name="bench sync load")
    connection = Connection.objects.create(project=project, provider="postgres",
                                           name="local source")
    sync = Sync.objects.create(project=project, connection=connection, name="bench",
                               slug="bench", entities=[ENTITY], status=Sync.Status.ACTIVE)
    binding = TableBinding.objects.create(
        sync=sync, entity_key=ENTITY, logical_table_name=ENTITY, table_name=ENTITY,
        physical_table_name=physical_name(project.pk, ENTITY),
        load_mode=TableBinding.LoadMode.UPSERT, cursor_field="updated_at",
        primary_key_columns=["id"])
    return str(binding.pk)


def reset_tables(binding_id: str) -> None:
    """Empty slate for a size: no target table, no checkpoint, a fresh baseline table."""
    from django.db import connection

    from syncs.models import SyncState, TableBinding

    binding = TableBinding.objects.get(pk=binding_id)
    SyncState.objects.filter(sync_id=binding.sync_id).delete()
    ddl = ", ".join(f'"{name}" {kind}' for name, kind in COLUMNS.items())
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE IF EXISTS "{binding.physical_table_name}"')
        cursor.execute(f"DROP TABLE IF EXISTS {BASELINE_TABLE}")
        cursor.execute(f"CREATE TABLE {BASELINE_TABLE} ({ddl})")
        cursor.execute("CHECKPOINT")


def prepare_run(binding_id: str, mode: str) -> None:
    """Before each run: the baseline table emptied (copy); the target dropped (insert)."""
    from django.db import connection

    from syncs.models import SyncState, TableBinding

    binding = TableBinding.objects.get(pk=binding_id)
    with connection.cursor() as cursor:
        if mode == "copy":
            cursor.execute(f"TRUNCATE {BASELINE_TABLE}")
        elif mode in ("insert", "other-insert"):
            SyncState.objects.filter(sync_id=binding.sync_id).delete()
            cursor.execute(f'DROP TABLE IF EXISTS "{binding.physical_table_name}"')
        if mode != "idle":
            cursor.execute("CHECKPOINT")  # no run pays for the previous one's dirty pages


def check_table(binding_id: str, mode: str, size: int) -> None:
    from django.db import connection

    from syncs.loading import read_checkpoint
    from syncs.models import TableBinding

    binding = TableBinding.objects.get(pk=binding_id)
    table = BASELINE_TABLE if mode == "copy" else binding.physical_table_name
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*), count(DISTINCT id) FROM "{table}"')
        count, distinct = cursor.fetchone()
        cursor.execute("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_name = %s ORDER BY ordinal_position", [table])
        columns = dict(cursor.fetchall())
    if (count, distinct) != (size, size):
        raise SystemExit(f"{mode}: {table} holds {count} rows ({distinct} ids), not {size}")
    if columns != COLUMNS:
        raise SystemExit(f"{mode}: {table} columns differ from the baseline's: {columns}")
    if mode.endswith("change"):  # every row holds the changed record
        cursor_sql = f'SELECT count(*) FROM "{table}" WHERE updated_at >= %s'
        with connection.cursor() as cursor:
            cursor.execute(cursor_sql, [make_record(1, changed=True)["updated_at"]])
            if cursor.fetchone()[0] != size:
                raise SystemExit(f"{mode}: not every row of {table} holds the changed record")
    if mode != "copy":
        expected = make_record(size, changed=mode.endswith("change"))["updated_at"]
        if read_checkpoint(binding) != expected:
            raise SystemExit(f"{mode}: checkpoint {read_checkpoint(binding)!r} != {expected}")


# --- the children ---------------------------------------------------------------------------

def child(mode: str, binding_id: str, rows: int, batch_size: int, other_root: str) -> None:
    """Runs in a fresh process; prints one JSON line."""
    import django

    django.setup()
    import orjson
    from django.db import connection
    from django.utils import timezone

    from syncs.loading import TableLoader
    from syncs.models import TableBinding

    binding = TableBinding.objects.get(pk=binding_id)
    source = LocalSource(rows, batch_size, changed=mode.endswith("change"))
    loader_class = TableLoader
    if mode.startswith("other-"):
        import importlib.util

        path = Path(other_root) / "syncs" / "loading" / "loader.py"
        if not path.exists():  # before the loader had a module of its own
            path = path.with_name("__init__.py")
        spec = importlib.util.spec_from_file_location("other_loading", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loader_class = module.TableLoader
    connection.ensure_connection()
    backend = backend_cpu_seconds(connection)
    written = 0
    cpu_started = time.process_time()
    started = time.perf_counter()
    if mode == "copy":
        names = ", ".join(f'"{name}"' for name in COLUMNS)
        now = timezone.now()
        dumps = orjson.dumps
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {BASELINE_TABLE} ({names}) FROM STDIN") as copy:
                for batch in source.read(ENTITY):
                    for r in batch.records:
                        copy.write_row((
                            r["id"], r["updated_at"], r["status"], r["amount"], r["currency"],
                            r["quantity"], r["paid"], r["email"], dumps(r["customer"]).decode(),
                            dumps(r["tags"]).decode(), r["note"],
                            dumps(r, default=str).decode(), now, RUN_ID))
                    written += len(batch.records)
    elif mode in OURS:
        if "lease" in inspect.signature(loader_class).parameters:
            from syncs.loading import take

            # A token larger than any earlier child's: each run takes the checkpoint anew.
            loader = loader_class(binding, RUN_ID, lease=take(binding, time.time_ns(), RUN_ID))
        else:  # a checkout from before the checkpoint fence
            loader = loader_class(binding, RUN_ID)
        loader.begin()
        reached = None
        for batch in source.read(ENTITY, cursor=None):
            written += loader.write(batch.records, batch.cursor)
            reached = batch.cursor
        loader.finish(reached)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    server_cpu = backend_cpu_seconds(connection) - backend
    print(json.dumps({"mode": mode, "rows": written, "seconds": seconds, "cpu": cpu,
                      "server_cpu": server_cpu}), flush=True)


def backend_cpu_seconds(connection) -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend process (the server
    is on this machine); NaN when /proc cannot tell."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def run_child(url: str, mode: str, binding_id: str, rows: int, batch_size: int,
              other_root: str) -> dict:
    command = [PYTHON, __file__, "--child", mode, "--binding", binding_id, "--rows", str(rows),
               "--batch", str(batch_size), "--other-root", other_root]
    return _database.run_child(command, child_env(url), mode, CHILD_TIMEOUT)


def measure(url: str, binding_id: str, size: int, batch_size: int, modes: list[str],
            repeat: int, other_root: str) -> dict[str, dict]:
    """Each mode in turn (``repeat`` rounds); keeps every time and the highest RSS."""
    results: dict[str, dict] = {}
    reset_tables(binding_id)
    rounds = [mode for _ in range(repeat) for mode in modes if mode != "idle"]
    for mode in (["idle"] if "idle" in modes else []) + rounds:
        prepare_run(binding_id, mode)
        line = run_child(url, mode, binding_id, size if mode != "idle" else 0, batch_size,
                         other_root)
        if mode != "idle":
            check_table(binding_id, mode, size)
        rate = f"{line['rows'] / line['seconds']:>10,.0f} rows/s" if line["rows"] else " " * 17
        print(f"  {size:>9,} {mode:<7} {line['seconds']:7.2f} s {rate}  "
              f"client CPU {line['cpu']:6.2f} s  server CPU {line['server_cpu']:6.2f} s  "
              f"peak RSS {line['peak_rss_mb']:6.1f} MB", flush=True)
        best = results.setdefault(mode, {**line, "times": [], "cpus": [], "server_cpus": []})
        best["times"].append(line["seconds"])
        best["cpus"].append(line["cpu"])
        best["server_cpus"].append(line["server_cpu"])
        best["seconds"] = min(best["times"])
        best["peak_rss_mb"] = max(best["peak_rss_mb"], line["peak_rss_mb"])
    return results


# --- the report -----------------------------------------------------------------------------


LABELS = {"copy": "COPY baseline (one COPY, plain table)",
          "insert": "ours: upsert into an empty table (all inserts)",
          "update": "ours: the same records again (all updates, none changed)",
          "change": "ours: every record changed (all updates, every row rewritten)",
          "other-insert": "other loader: into an empty table (all inserts)",
          "other-update": "other loader: the same records again (all updates, none changed)",
          "other-change": "other loader: every record changed (all updates, every row rewritten)",
          "idle": "(process after Django setup, nothing loaded)"}


def cpu_seconds(line: dict) -> float:
    return statistics.median(line["cpus"]) + statistics.median(line["server_cpus"])


def report(info: dict, postgres: str, batch_size: int, other_root: str,
           results: dict[int, dict[str, dict]]) -> str:
    lines = ["| rows | path | best s | rows/s (best) | vs COPY (best) | vs COPY (median) "
             "| vs COPY (CPU) | all runs (s) | client CPU (s) | server CPU (s) | peak RSS (MB) "
             "| above idle (MB) |",
             "|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for size, by_mode in results.items():
        idle = by_mode["idle"]["peak_rss_mb"] if "idle" in by_mode else None
        copy = by_mode.get("copy")
        for mode, label in LABELS.items():
            line = by_mode.get(mode)
            if line is None:
                continue
            if mode == "idle":
                lines.append(f"| {size:,} | {label} | | | | | | | | | "
                             f"{line['peak_rss_mb']:.1f} | |")
                continue
            rate = line["rows"] / line["seconds"]
            ratio = median = cpu_ratio = ""
            if copy:
                # Rows per CPU second (client + its backend, medians) against COPY's: what the
                # wall times show on a quiet machine, less blurred when others share the CPUs.
                cpu_ratio = f"{cpu_seconds(copy) / cpu_seconds(line):.2f}"
                ratio = f"{line['rows'] / line['seconds'] / (copy['rows'] / copy['seconds']):.2f}"
                median = statistics.median(copy["times"]) / statistics.median(line["times"])
                median = f"{median:.2f}"
            runs = ", ".join(f"{t:.2f}" for t in line["times"])
            above = f"{line['peak_rss_mb'] - idle:+.1f}" if idle is not None else ""
            lines.append(f"| {size:,} | {label} | {line['seconds']:.2f} | {rate:,.0f} | {ratio} | "
                         f"{median} | {cpu_ratio} | {runs} | "
                         f"{statistics.median(line['cpus']):.1f} | "
                         f"{statistics.median(line['server_cpus']):.1f} | "
                         f"{line['peak_rss_mb']:.1f} | {above} |")
    verdicts = []
    for size, by_mode in results.items():
        if "copy" not in by_mode:
            continue
        copy_rate = by_mode["copy"]["rows"] / by_mode["copy"]["seconds"]
        for prefix, who in (("", "ours"), ("other-", "other")):
            ratios = [by_mode[f"{prefix}{m}"]["rows"] / by_mode[f"{prefix}{m}"]["seconds"]
                      / copy_rate for m in ("insert", "update", "change")
                      if f"{prefix}{m}" in by_mode]
            modes = [f"{prefix}{m}" for m in ("insert", "update", "change")
                     if f"{prefix}{m}" in by_mode]
            by_cpu = [cpu_seconds(by_mode["copy"]) / cpu_seconds(by_mode[m]) for m in modes]
            if ratios:
                met = "met" if min(ratios) >= GOAL else "NOT met"
                shown = " / ".join(f"{r:.2f}" for r in ratios)
                shown_cpu = " / ".join(f"{r:.2f}" for r in by_cpu)
                verdicts.append(f"- {size:,} rows, {who}/COPY (best): {shown}, by CPU "
                                f"{shown_cpu} ({' / '.join(modes)}): goal >= {GOAL} {met} "
                                "(wall)")
    lines += ["", *verdicts]
    loader = "ours: `syncs.loading.TableLoader` as it is"
    if any(mode.startswith("other-") for by_mode in results.values() for mode in by_mode):
        loader += f"; other: the loader of `{other_root}`"
    return "\n".join([
        f"Run: {info['date']}; {info['cpu']}, {info['memory']} RAM; {info['os']}; "
        f"Python {info['python']}, Django {info['django']}, psycopg {info['psycopg']}; "
        f"{postgres} on the same machine. Batches of {batch_size:,} records; {loader}. "
        f"Load average at the end (1, 5, 15 min): {info['load']} (other work shared the "
        "machine: compare the rows of one run).",
        "",
        *lines,
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-rows", type=int, default=300_000,
                        help="run the series for this many rows first, to compare peak RSS "
                             "(0: skip)")
    parser.add_argument("--batch", type=int, default=5000, help="records per batch")
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--modes", default="idle,copy,insert,update,change",
                        help="comma-separated, run in this order (update needs insert first, "
                             "change needs the original records in the table: after insert or "
                             "update); also other-insert, other-update, other-change (with "
                             "--other-root)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the modes per size")
    parser.add_argument("--other-root", default="",
                        help="another checkout whose loader the other-* modes run")
    parser.add_argument("--record", type=Path, help="write the results (markdown) to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--binding", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.binding, args.rows, args.batch, args.other_root)
        return

    url = args.database_url
    started = time.monotonic()
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    unknown = set(modes) - {"idle", "copy", *OURS}
    if unknown or (not args.other_root and any(m.startswith("other-") for m in modes)):
        raise SystemExit(f"--modes: unknown {sorted(unknown)}, or other-* without --other-root")
    recreate_database(url)
    setup_django(url)
    from django.db import connection

    binding_id = create_binding()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = "PostgreSQL " + cursor.fetchone()[0]
    sizes = ([args.small_rows] if 0 < args.small_rows < args.rows else []) + [args.rows]
    results: dict[int, dict[str, dict]] = {}
    for size in sizes:
        results[size] = measure(url, binding_id, size, args.batch, modes, args.repeat,
                                args.other_root)
    text = report(machine(), postgres, args.batch, args.other_root, results)
    print()
    print(text)
    print(f"\nWhole run: {time.monotonic() - started:.0f} s")
    if args.record:
        record(args.record, text)


def record(path: Path, text: str) -> None:
    replace_results(path, "sync_load.py", "Sync load throughput (`benchmarks/sync_load.py`)", text)


if __name__ == "__main__":
    main()
