"""Export throughput and memory on PostgreSQL: every format of a plain table (``TableResource``)
and of an API resource (jobs) through the build's file sink, against a bare ``COPY (SELECT ...)
TO STDOUT WITH (FORMAT csv)`` of each resource's rows in the same run.

    .venv/bin/python benchmarks/export_throughput.py [--rows 1000000] [--large-rows 3000000]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_export]
        [--formats csv,jsonl,json,parquet,xlsx] [--python csv] [--record FILE]

The script drops and creates its own database (its name must contain "bench"), migrates it,
loads a table of ``--rows`` rows with ``INSERT ... SELECT generate_series`` (id bigint, uuid,
text, int, numeric, bool, timestamptz, a small jsonb object; some NULLs; half the timestamps
with microseconds) and as many jobs (of one project, with a JSON payload, a few NULLs), runs
``VACUUM ANALYZE`` (so no run pays for hint bits), then runs, each in a fresh process:

- ``copy:<resource>``: the baseline, ``COPY (SELECT <columns> FROM t ORDER BY id) TO STDOUT
  WITH (FORMAT csv)`` of the table (of the project's jobs) through psycopg's
  ``cursor.copy()``, every chunk written as is to a file;
- ``fast <resource> <format>``: what ``build_export`` runs on PostgreSQL: ``count()``, then the
  resource's ``copy_batches`` (the COPY fast path: csv, jsonl, json, parquet) or, for xlsx,
  ``batches`` (the Python path, openpyxl's write-only workbook), into the build's
  ``_FileSink`` (files split at ``EXPORTS_MAX_RECORDS_PER_FILE`` = 1,000,000 rows, sha256 of
  each, published to a local storage);
- ``python <resource> <format>`` (``--python``, at the first size only): the Python path
  (``batches``) into the same sink, for reference.

Times exclude process start and Django setup. The peak RSS of each process is read from
``os.wait4`` (``ru_maxrss``); ``idle`` is a process that only sets Django up, for reference. Then
the table and the jobs grow to ``--large-rows`` (0 skips) and the runs repeat, to show that
memory does not grow with the row count."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PYTHON = sys.executable
TABLE = "bench_rows"
COLUMNS = ["id", "uid", "name", "qty", "price", "active", "created_at", "payload"]
BATCH_SIZE = 2000  # exports.services.BATCH_SIZE
CHILD_TIMEOUT = 600.0

sys.path.insert(0, str(ROOT))

from benchmarks import _database  # noqa: E402 - after the path is set
from benchmarks._machine import machine  # noqa: E402

# --- the database ---------------------------------------------------------------------------

CREATE = f"""
CREATE TABLE {TABLE} (
    id bigint PRIMARY KEY,
    uid uuid NOT NULL,
    name text,
    qty integer NOT NULL,
    price numeric(12, 2),
    active boolean NOT NULL,
    created_at timestamptz NOT NULL,
    payload jsonb
)"""

# Rows first..last; about 6% NULL names, 4% NULL prices, 3% NULL payloads, names with a comma
# and quotes (quoted in CSV) every 10th row, microseconds on half the timestamps.
FILL = f"""
INSERT INTO {TABLE}
SELECT g,
       md5(g::text)::uuid,
       CASE WHEN g %% 17 = 0 THEN NULL
            WHEN g %% 10 = 0 THEN 'Customer ' || g || ', "VIP"'
            ELSE 'Customer ' || g END,
       (g * 7) %% 1000,
       CASE WHEN g %% 23 = 0 THEN NULL ELSE ((g * 37) %% 100000) / 100.0 END,
       g %% 3 = 0,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
           + CASE WHEN g %% 2 = 0 THEN (g %% 999983) * interval '1 microsecond'
                  ELSE interval '0' END,
       CASE WHEN g %% 29 = 0 THEN NULL
            ELSE jsonb_build_object('sku', 'SKU-' || (g %% 5000), 'units', g %% 7,
                                    'weight', ((g %% 1000) * 0.25)::float8,
                                    'tags', jsonb_build_array('a', 'b')) END
FROM generate_series(%s::bigint, %s::bigint) AS g"""


PROJECT_ID = "00000000-0000-4000-8000-000000000001"

# Jobs first..last of one project: a JSON payload (text with a comma and quotes every 10th),
# results on a third, errors on every 13th, microseconds on half the timestamps.
FILL_JOBS = """
INSERT INTO jobs_job (id, project_id, job_class, queue, payload, priority, status, progress,
                      retry_count, max_retries, error, error_details, error_traceback, unicity,
                      scheduled_at, started_at, finished_at, heartbeat_at, worker_id,
                      cancel_requested_at, result, checkpoint, created_by_id, created_at,
                      updated_at)
SELECT md5('job' || g)::uuid, %s::uuid, 'bench.job', 'default',
       jsonb_build_object('n', g, 'name', CASE WHEN g %% 10 = 0 THEN 'a, "b"' ELSE 'x' || g END,
                          'ratio', ((g %% 1000) * 0.25)::float8),
       g %% 10, 'succeeded', 100, 0, 3,
       CASE WHEN g %% 13 = 0 THEN 'boom, "quoted"' ELSE '' END,
       CASE WHEN g %% 13 = 0 THEN jsonb_build_object('kind', 'ValueError') END, '', NULL,
       ts, ts, ts + interval '2 seconds', ts + interval '1 second', 'worker-1', NULL,
       CASE WHEN g %% 3 = 0 THEN jsonb_build_object('rows', g) END, NULL,
       CASE WHEN g %% 2 = 0 THEN 'user-' || (g %% 100) END, ts, ts
FROM generate_series(%s::bigint, %s::bigint) AS g,
     LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
                     + CASE WHEN g %% 2 = 0 THEN (g %% 999983) * interval '1 microsecond'
                            ELSE interval '0' END AS ts) AS t"""


def migrate(url: str) -> None:
    _database.migrate({**os.environ, "DATABASE_URL": url,
                       "DJANGO_SETTINGS_MODULE": "syncservice.settings"})
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO accounts_project (id, name, description, created_at, "
                     "updated_at) VALUES (%s, 'bench', '', now(), now())", (PROJECT_ID,))


def fill(url: str, first: int, last: int) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        if first == 1:
            conn.execute(CREATE)
        conn.execute(FILL, (first, last))
        conn.execute(FILL_JOBS, (PROJECT_ID, first, last))
        conn.execute(f"VACUUM ANALYZE {TABLE}")
        conn.execute("VACUUM ANALYZE jobs_job")
    return time.perf_counter() - started


# The baselines: a bare COPY ... CSV of each resource's rows, in the order of the export.
BASELINES = {
    "table": (f"COPY (SELECT {', '.join(COLUMNS)} FROM {TABLE} ORDER BY id) "
              "TO STDOUT WITH (FORMAT csv)", ()),
    "jobs": ("COPY (SELECT * FROM jobs_job WHERE project_id = %s ORDER BY id) "
             "TO STDOUT WITH (FORMAT csv)", (PROJECT_ID,)),
}
RESOURCES = ("table", "jobs")

# --- the children ---------------------------------------------------------------------------

def child(mode: str, out: str) -> None:
    """Runs in a fresh process; prints one JSON line. ``out``: a file (copy) or a directory
    (the export's files, as a local storage)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syncservice.settings")
    os.environ["MEDIA_ROOT"] = out
    import django

    django.setup()
    from django.db import connection

    rows = 0
    files: list[tuple[str, int]] = []
    connection.ensure_connection()
    cpu_started = time.process_time()
    started = time.perf_counter()
    if mode == "idle":
        pass
    elif mode.startswith("copy:"):
        sql, params = BASELINES[mode.split(":")[1]]
        with open(out, "wb") as fh, connection.cursor() as cursor:
            with cursor.cursor.copy(sql, params) as copy:
                for data in copy:
                    fh.write(data)
                    rows += 1
    else:
        rows, files = export(*mode.split(":"))
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(json.dumps({"mode": mode, "rows": rows, "seconds": seconds, "cpu": cpu,
                      "files": files}), flush=True)


def export(path: str, resource_type: str, format_name: str,
           first_rows: str = "") -> tuple[int, list]:
    """What ``build_export`` does, without the job and the export's rows: count, then the
    rows of the COPY fast path (or the Python path) into its file sink. ``first_rows``: only
    the first N rows, by a filter of the resource (xlsx: the whole run takes too long)."""
    import uuid

    from exports import services
    from exports.formats import FORMATS
    from exports.models import Export
    from exports.registry import get_resource
    from exports.tables import TableResource
    from syncservice.accounts.models import Project

    project = Project.objects.get(pk=PROJECT_ID)
    if resource_type == "table":
        resource, project = TableResource("bench_rows", TABLE), None
    else:
        resource = get_resource(resource_type, project)
    export_format = FORMATS[format_name]
    export = Export(pk=uuid.uuid4(), project_id=PROJECT_ID, resource_type=resource_type,
                    format=format_name)
    sink = services._FileSink(export, export_format, resource.columns([], []))
    filters = {}
    if first_rows:
        filters = ({"id__lte": first_rows} if resource_type == "table" else
                   {"created_at__lte": _nth_second(int(first_rows))})
    total = resource.count(project, filters)
    if path == "fast" and resource.supports_copy(format_name):
        batches = resource.copy_batches(project, filters, [], [], format_name,
                                        services.COPY_BATCH_SIZES.get(format_name,
                                                                      services.BATCH_SIZE))
    else:
        batches = resource.batches(project, filters, [], [], services.BATCH_SIZE)
    rows = 0
    for batch in batches:
        sink.write(batch)
        rows += len(batch)
    sink.close()
    assert rows == total, (rows, total)
    return rows, [(f.filename, f.size) for f in sink.published]


def _nth_second(n: int) -> str:
    """A moment at or after job n's created_at (FILL_JOBS: n seconds and under a second of
    microseconds after the start) and before job n + 1's."""
    import datetime as dt

    moment = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=n,
                                                                    microseconds=999_999)
    return moment.isoformat().replace("+00:00", "Z")


def run_child(url: str, mode: str, out: Path) -> dict:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "syncservice.settings",
           "PYTHONPATH": str(ROOT)}
    result = _database.run_child([PYTHON, __file__, "--child", mode, "--out", str(out)], env,
                                 mode, CHILD_TIMEOUT)
    result["bytes"] = (out.stat().st_size if out.is_file()
                       else sum(size for _, size in result["files"]))
    return result


def measure(url: str, workdir: Path, size: int, repeat: int, formats: list[str],
            python: list[str], xlsx_rows: int) -> dict[str, dict]:
    """Each mode ``repeat`` times (xlsx and the Python path once), interleaved; keeps the best
    time and the highest RSS."""
    results: dict[str, dict] = {}
    xlsx = f":{xlsx_rows}" if xlsx_rows and xlsx_rows < size else ""
    exports = [f"fast:{resource}:{name}" + (xlsx if name == "xlsx" else "")
               for resource in RESOURCES for name in formats]
    exports += [f"python:{resource}:{name}" for resource in RESOURCES for name in python]
    modes = ["idle"]
    for index in range(repeat):
        modes += [f"copy:{resource}" for resource in RESOURCES] + [mode for mode in exports
                             if index == 0 or not ("xlsx" in mode
                                                   or mode.startswith("python"))]
    for mode in modes:
        out = workdir / f"{mode.replace(':', '-')}-{size}"
        if mode.count(":") >= 2:
            out.mkdir()
        line = run_child(url, mode, out)
        if mode != "idle":
            expected = int(mode.split(":")[3]) if mode.count(":") == 3 else size
            assert line["rows"] == expected, (mode, line["rows"], expected)
        rate = f"{line['rows'] / line['seconds']:>10,.0f} rows/s" if line["rows"] else " " * 17
        print(f"  {size:>9,} {mode:<20} {line['seconds']:7.2f} s {rate}  "
              f"client CPU {line['cpu']:6.2f} s  peak RSS {line['peak_rss_mb']:6.1f} MB  "
              f"files {len(line['files']) or ''}", flush=True)
        best = results.setdefault(mode, {**line, "times": []})
        best["times"].append(line["seconds"])
        best["seconds"] = min(best["times"])
        best["peak_rss_mb"] = max(best["peak_rss_mb"], line["peak_rss_mb"])
        subprocess.run(["rm", "-rf", str(out)], check=True)
    return results


# --- the report -----------------------------------------------------------------------------

LABELS = {"copy:table": "table: COPY ... CSV baseline", "copy:jobs": "jobs: COPY ... CSV baseline",
          "idle": "(process after Django setup, no export)"}


def _label(mode: str) -> str:
    if mode in LABELS:
        return LABELS[mode]
    path, resource, format_name, *first = mode.split(":")
    how = ("Python path (openpyxl write-only)" if format_name == "xlsx" and path == "fast"
           else "COPY fast path" if path == "fast" else "Python path")
    return f"{resource}, {format_name}: {how}" + (
        f" (first {int(first[0]):,} rows)" if first else "")


def report(info: dict, postgres: str, commit: str, fills: dict[int, float],
           results: dict[int, dict[str, dict]]) -> str:
    lines = ["| rows | export | best s | rows/s (best) | vs COPY (best) | vs COPY (median) "
             "| all runs (s) | peak RSS (MB) | above idle (MB) | files (MB) |",
             "|---:|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for size, by_mode in results.items():
        idle = by_mode["idle"]["peak_rss_mb"]
        order = sorted((m for m in by_mode if m != "idle"),
                       key=lambda m: (RESOURCES.index(m.split(":")[1]),
                                      not m.startswith("copy"), m.startswith("python")))
        for mode in order:
            line = by_mode[mode]
            resource = mode.split(":")[1]
            copy = by_mode[f"copy:{resource}"]
            baseline = copy["rows"] / copy["seconds"]
            baseline_median = statistics.median(copy["times"])
            rate = line["rows"] / line["seconds"]
            median = (line["rows"] / statistics.median(line["times"])) / (
                copy["rows"] / baseline_median)
            runs = ", ".join(f"{t:.2f}" for t in line["times"])
            lines.append(f"| {size:,} | {_label(mode)} | {line['seconds']:.2f} | {rate:,.0f} | "
                         f"{rate / baseline:.2f} | {median:.2f} | {runs} | "
                         f"{line['peak_rss_mb']:.1f} | {line['peak_rss_mb'] - idle:+.1f} | "
                         f"{line['bytes'] / 1e6:.0f} |")
        lines.append(f"| {size:,} | {LABELS['idle']} | | | | | | {idle:.1f} | | |")
    fill_text = ", ".join(f"{size:,} rows in {seconds:.0f} s" for size, seconds in fills.items())
    return "\n".join([
        f"Run: {info['date']}, commit {commit}; {info['cpu']}, {info['memory']} RAM; "
        f"{info['os']}; Python {info['python']}, Django {info['django']}, psycopg "
        f"{info['psycopg']}; {postgres} on the same machine. Load average at the start and the "
        f"end (1, 5, 15 min): {info['load_start']} / {info['load']} (the machine is shared with "
        "other helpers' tests and benchmarks: compare the rows of one run).",
        "",
        f"Table and jobs load (generate_series + VACUUM ANALYZE, not timed in the results): "
        f"{fill_text}.",
        "",
        *lines,
    ])


def commit_id() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return result.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--large-rows", type=int, default=3_000_000,
                        help="grow the table to this many rows and measure again (0: skip)")
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_DATABASE_URL",
                                               "postgres://postgres@127.0.0.1:5432/bench_export"))
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs of each fast path at the first size (best time, highest RSS "
                             "kept)")
    parser.add_argument("--large-repeat", type=int, default=1,
                        help="runs of each fast path at the large size")
    parser.add_argument("--xlsx-rows", type=int, default=100_000,
                        help="xlsx exports only the first N rows (openpyxl takes minutes per "
                             "million; 0: all)")
    parser.add_argument("--formats", default="csv,jsonl,json,parquet,xlsx")
    parser.add_argument("--python", default="csv",
                        help="formats also run through the Python path, at the first size")
    parser.add_argument("--record", type=Path,
                        help="append the results (markdown) to this file as a new section")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.out)
        return

    import psycopg

    url = args.database_url
    started = time.monotonic()
    commit = commit_id()
    load_start = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    _database.recreate_database(url, "bench")
    migrate(url)
    with psycopg.connect(url) as conn:
        postgres = "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0]
    sizes = [args.rows] + ([args.large_rows] if args.large_rows > args.rows else [])
    formats = [f for f in args.formats.split(",") if f]
    python = [f for f in args.python.split(",") if f]
    fills: dict[int, float] = {}
    results: dict[int, dict[str, dict]] = {}
    loaded = 0
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        for size in sizes:
            fills[size] = fill(url, loaded + 1, size)
            loaded = size
            print(f"{size:,} rows loaded in {fills[size]:.1f} s", flush=True)
            first = size == sizes[0]
            results[size] = measure(url, Path(tmp), size,
                                    args.repeat if first else args.large_repeat, formats,
                                    python if first else [], args.xlsx_rows)
    text = report({**machine(), "load_start": load_start}, postgres, commit, fills,
                  results)
    print()
    print(text)
    print(f"\nWhole run: {time.monotonic() - started:.0f} s")
    if args.record:
        with open(args.record, "a") as fh:
            fh.write(RECORD_SECTION + text + "\n")


RECORD_SECTION = """
## Every format, a table and an API resource (jobs), through the build's file sink

    .venv/bin/python benchmarks/export_throughput.py --record benchmarks/export_throughput.md

Goals (exports issue 18): ≥ 0.5× COPY rows/s for csv, jsonl, json and parquet; peak RSS flat
(< 200 MB) at 3M rows; xlsx recorded. Each export runs in a fresh process as `build_export`
does (count, then the COPY fast path's batches, or for xlsx the Python path's, into the
`_FileSink`: a file per 1,000,000 rows or 256 MB, its sha256, published to a local
storage). The baseline of each resource is a bare `COPY (SELECT ... ORDER BY id) TO STDOUT
WITH (FORMAT csv)` of its rows in the same run: all the table's columns, every column of the
project's jobs (`SELECT *`). "best" is the fastest of the runs, "median" compares medians;
xlsx and the Python path run once, xlsx on the first 100,000 rows only (`--xlsx-rows`).

"""


if __name__ == "__main__":
    main()
