"""Export throughput and memory: a PostgreSQL table exported to CSV through ``TableResource``,
against a bare ``COPY (SELECT ...) TO STDOUT WITH (FORMAT csv)`` of the same rows in the same run.

    .venv/bin/python benchmarks/export_throughput.py [--rows 1000000] [--large-rows 3000000]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_export]
        [--record benchmarks/export_throughput.md]

The script drops and creates its own database (its name must contain "bench"), loads a table of
``--rows`` rows with ``INSERT ... SELECT generate_series`` (id bigint, uuid, text, int,
numeric, bool, timestamptz, a small jsonb object; some NULLs; half the timestamps with
microseconds), runs ``VACUUM ANALYZE`` (so no run pays for hint bits), then runs, each in a
fresh process:

- ``copy``: the baseline, ``COPY (SELECT <columns> FROM t ORDER BY id) TO STDOUT WITH (FORMAT
  csv)`` through psycopg's ``cursor.copy()``, every chunk written as is to a file;
- ``fast``: ``TableResource.csv_batches`` (one COPY whose SELECT formats each value as the API
  does), written as services' ``_FileSink`` writes: ``CountingFile`` + ``CsvWriter`` header;
- ``python``: ``TableResource.batches`` (server-side cursor, 2,000-row batches, values converted
  in Python) through ``CsvWriter.write``, exactly as ``build_export`` does today.

Both of ours start with ``count()`` as ``build_export`` does. Times exclude process start and
Django setup. The peak RSS of each process is read from ``os.wait4`` (``ru_maxrss``); ``idle`` is
a process that only sets Django up, for reference. Then the table grows to ``--large-rows``
(0 skips) and the three runs repeat, to show that memory does not grow with the row count.
The fast and Python files must be byte-identical (sha256 compared).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PYTHON = sys.executable
TABLE = "bench_rows"
COLUMNS = ["id", "uid", "name", "qty", "price", "active", "created_at", "payload"]
BATCH_SIZE = 2000  # exports.services.BATCH_SIZE
CHILD_TIMEOUT = 600.0

sys.path.insert(0, str(ROOT))

from benchmarks._machine import machine  # noqa: E402 - after the path is set

# --- the database ---------------------------------------------------------------------------

def db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def admin_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def recreate_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = db_name(url)
    if not name or name.startswith("test_") or "bench" not in name:
        raise SystemExit(f"Refusing to drop/create database {name!r}: use a name containing "
                         "'bench' (not test_*).")
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


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


def fill(url: str, first: int, last: int) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        if first == 1:
            conn.execute(CREATE)
        conn.execute(FILL, (first, last))
        conn.execute(f"VACUUM ANALYZE {TABLE}")
    return time.perf_counter() - started


# --- the children ---------------------------------------------------------------------------

def child(mode: str, out: str) -> None:
    """Runs in a fresh process; prints one JSON line."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syncservice.settings")
    import django

    django.setup()
    from django.db import connection

    from exports.formats import FORMATS, CountingFile, open_compressed
    from exports.tables import TableResource

    resource = TableResource("bench_rows", TABLE)
    rows = 0
    connection.ensure_connection()
    cpu_started = time.process_time()
    started = time.perf_counter()
    if mode == "idle":
        pass
    elif mode == "copy":
        sql = (f"COPY (SELECT {', '.join(COLUMNS)} FROM {TABLE} ORDER BY id) "
               f"TO STDOUT WITH (FORMAT csv)")
        with open(out, "wb") as fh, connection.cursor() as cursor:
            with cursor.cursor.copy(sql) as copy:
                for data in copy:
                    fh.write(data)
                    rows += 1
    else:
        with open(out, "wb") as raw:
            counting = CountingFile(raw)
            stream = open_compressed(counting, False)
            total = resource.count(None, {})
            writer = FORMATS["csv"].open(stream, resource.columns([], []))
            if mode == "fast":
                # what _FileSink.write does with encoded lines
                for batch in resource.csv_batches(None, {}, [], BATCH_SIZE):
                    stream.write(bytes(batch))
                    rows += len(batch)
            else:
                for batch in resource.batches(None, {}, [], [], BATCH_SIZE):
                    writer.write(batch)
                    rows += len(batch)
            writer.close()
            assert rows == total, (rows, total)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(json.dumps({"mode": mode, "rows": rows, "seconds": seconds, "cpu": cpu}), flush=True)


def run_child(url: str, mode: str, out: Path) -> dict:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "syncservice.settings",
           "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen([PYTHON, __file__, "--child", mode, "--out", str(out)],
                                   cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + CHILD_TIMEOUT
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                raise SystemExit(f"{mode}: timed out after {CHILD_TIMEOUT}s")
            time.sleep(0.05)
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode(errors="replace")
    if process.returncode != 0:
        raise SystemExit(f"{mode} failed ({process.returncode}):\n{text}")
    result = json.loads(text.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
    if out.exists():
        result["bytes"] = out.stat().st_size
        result["sha256"] = sha256(out)
    return result


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def measure(url: str, workdir: Path, size: int, repeat: int,
            python_repeat: int) -> dict[str, dict]:
    """Each mode ``repeat`` times (the slow Python path ``python_repeat`` times), interleaved;
    keeps the best time and the highest RSS."""
    results: dict[str, dict] = {}
    modes = ["idle"] + [mode for index in range(max(repeat, python_repeat))
                        for mode in ("copy", "fast", "python")
                        if index < (python_repeat if mode == "python" else repeat)]
    for mode in modes:
        out = workdir / f"{mode}-{size}.csv"
        line = run_child(url, mode, out)
        if mode != "idle":
            assert line["rows"] == size, (mode, line["rows"], size)
        rate = f"{line['rows'] / line['seconds']:>10,.0f} rows/s" if line["rows"] else " " * 17
        print(f"  {size:>9,} {mode:<7} {line['seconds']:7.2f} s {rate}  "
              f"client CPU {line['cpu']:6.2f} s  peak RSS {line['peak_rss_mb']:6.1f} MB",
              flush=True)
        best = results.setdefault(mode, {**line, "times": []})
        best["times"].append(line["seconds"])
        best["seconds"] = min(best["times"])
        best["peak_rss_mb"] = max(best["peak_rss_mb"], line["peak_rss_mb"])
        if mode == "python" and "fast" in results and (
                line["sha256"] != results["fast"]["sha256"]):
            raise SystemExit("The fast path and the Python path wrote different files.")
        if out.exists():
            out.unlink()
    return results


# --- the report -----------------------------------------------------------------------------


def report(info: dict, postgres: str, fills: dict[int, float],
           results: dict[int, dict[str, dict]]) -> str:
    lines = ["| rows | path | best s | rows/s (best) | vs COPY (best) | vs COPY (median) "
             "| all runs (s) | peak RSS (MB) | above idle (MB) | file (MB) |",
             "|---:|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for size, by_mode in results.items():
        baseline = by_mode["copy"]["rows"] / by_mode["copy"]["seconds"]
        baseline_median = statistics.median(by_mode["copy"]["times"])
        for mode, label in (("copy", "COPY baseline"), ("fast", "ours, CSV fast path (COPY)"),
                            ("python", "ours, Python streaming path"),
                            ("idle", "(process after Django setup, no export)")):
            line = by_mode[mode]
            idle = by_mode["idle"]["peak_rss_mb"]
            if mode == "idle":
                lines.append(f"| {size:,} | {label} | | | | | | "
                             f"{line['peak_rss_mb']:.1f} | | |")
                continue
            rate = line["rows"] / line["seconds"]
            median = baseline_median / statistics.median(line["times"])
            runs = ", ".join(f"{t:.2f}" for t in line["times"])
            lines.append(f"| {size:,} | {label} | {line['seconds']:.2f} | {rate:,.0f} | "
                         f"{rate / baseline:.2f} | {median:.2f} | {runs} | "
                         f"{line['peak_rss_mb']:.1f} | {line['peak_rss_mb'] - idle:+.1f} | "
                         f"{line['bytes'] / 1e6:.0f} |")
    fill_text = ", ".join(f"{size:,} rows in {seconds:.0f} s" for size, seconds in fills.items())
    return "\n".join([
        f"Run: {info['date']}; {info['cpu']}, {info['memory']} RAM; {info['os']}; "
        f"Python {info['python']}, Django {info['django']}, psycopg {info['psycopg']}; "
        f"{postgres} on the same machine. Load average at the end (1, 5, 15 min): "
        f"{info['load']} (other work shared the machine: compare the rows of one run).",
        "",
        f"Table load (generate_series + VACUUM ANALYZE, not timed in the results): {fill_text}.",
        "",
        *lines,
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--large-rows", type=int, default=3_000_000,
                        help="grow the table to this many rows and measure again (0: skip)")
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_DATABASE_URL",
                                               "postgres://postgres@127.0.0.1:5432/bench_export"))
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each path per size (best time, highest RSS kept)")
    parser.add_argument("--python-repeat", type=int, default=1,
                        help="runs of the (slow) Python path per size")
    parser.add_argument("--record", type=Path, help="write the results (markdown) to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.out)
        return

    import psycopg

    url = args.database_url
    started = time.monotonic()
    recreate_database(url)
    with psycopg.connect(url) as conn:
        postgres = "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0]
    sizes = [args.rows] + ([args.large_rows] if args.large_rows > args.rows else [])
    fills: dict[int, float] = {}
    results: dict[int, dict[str, dict]] = {}
    loaded = 0
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        for size in sizes:
            fills[size] = fill(url, loaded + 1, size)
            loaded = size
            print(f"{size:,} rows loaded in {fills[size]:.1f} s", flush=True)
            results[size] = measure(url, Path(tmp), size, args.repeat, args.python_repeat)
    text = report(machine(), postgres, fills, results)
    print()
    print(text)
    print(f"\nWhole run: {time.monotonic() - started:.0f} s")
    if args.record:
        args.record.write_text(RECORD_HEAD + text + "\n" + RECORD_TAIL)


RECORD_HEAD = """# Export throughput (`benchmarks/export_throughput.py`)

A PostgreSQL table exported to CSV through `exports.tables.TableResource`, against a bare
`COPY (SELECT <columns> FROM t ORDER BY id) TO STDOUT WITH (FORMAT csv)` of the same rows in the
same run. Goals (exports issue): ours/COPY >= 0.5; peak RSS < 200 MB and not growing with the row
count (1M vs 3M).

    .venv/bin/python benchmarks/export_throughput.py --record benchmarks/export_throughput.md
    # --rows N (default 1,000,000) --large-rows N (default 3,000,000; 0 skips)
    # --repeat N (COPY and fast path, default 3) --python-repeat N (default 1)

Each export runs in a fresh process; times exclude process start and Django setup; "best"
is the fastest of the runs (the machine is shared), "median" compares medians. Peak RSS is the
process's `ru_maxrss` (from `os.wait4`); "above idle" subtracts a process that only sets Django
up. "ours, CSV fast path" is `TableResource.csv_batches` (one COPY whose SELECT formats each
value exactly as the Python path does) written as services' file sink would write it
(`CountingFile`, `CsvWriter` header); "ours, Python streaming path" is `TableResource.batches`
(server-side cursor, 2,000-row batches) through `CsvWriter`, which is what `build_export` runs
for the other formats, and for CSV with `includes` or `dry_data` or on SQLite. Both start with
the `count()` that `build_export` does. The two files are checked byte-identical (sha256).
Table: id bigint PK, uuid, text (some with `,` and `"`), int, numeric(12,2), bool, timestamptz
(half with microseconds), a small jsonb object; a few % NULLs.

## Results

"""

RECORD_TAIL = """
## Reading the figures

- COPY writes PostgreSQL's own text for each value; ours writes the API's (ISO 8601 `Z`
  datetimes, `true`/`false`, compact JSON as orjson writes it, `\\r\\n` line ends). The fast
  path's SELECT does that work in the server process, and its rate is bound by that server CPU
  time: its client (Python) CPU is about the baseline's. Measured apart, server side only
  (`COPY ... TO '/dev/null'`, 1M rows, best of 3): all columns as COPY writes them 1.27 s, ours
  2.6-2.7 s; of the difference, JSON compaction is about 1.2 s (`strpos(jsonb::text, ': null')`
  0.5 s, `json_strip_nulls(to_json(...))` 0.7 s) and the timestamp's `to_char` 0.3 s. A table
  without JSON columns gets a better ratio.
- What changed since the first recorded run (0.39-0.50): the float formatting for values of
  2**53 and more was a scalar subquery; written out as one expression it costs nothing for
  ordinary values (the CASE never reaches it) and the SELECT list is parallel-safe, so
  PostgreSQL may run it in parallel workers (`parallel_setup_cost`/`parallel_tuple_cost` are 0
  on the export's own connection; workers within the server's
  `max_parallel_workers_per_gather`; Gather Merge keeps the order). On this 2-CPU machine,
  where the client needs one CPU, parallel workers gain nothing measurable; on a database
  server with CPUs to spare they take the formatting off the single backend.
- Tried and dropped: computing the JSON text once per row in an `OFFSET 0` subquery (slower
  end to end here, 2.9-3.0 s against 2.6-2.8 s, and it rules out parallel plans); timestamps
  through `::text` and string functions instead of `to_char` (slower); a jsonpath or
  `jsonb_strip_nulls(v) = v` null check instead of `strpos` (no faster).
- The Python path spends its time in Python (psycopg row loading, dicts, `csv.writer`); on
  PostgreSQL its SELECT already writes datetimes, dates, uuids and decimals as the API's text,
  and it reads on a connection of its own in a transaction, so its named cursor streams (in
  autocommit Django's would be `WITH HOLD`: the server runs the whole query into a temporary
  store first, 12-15 s before the first row for 3M rows here). Its wall time is far above its
  CPU time when the machine is loaded.
- Peak RSS is flat between the two sizes for every path, a few MB above a process that only
  set Django up: rows are streamed in 2,000-row batches (fetchmany on a named cursor; COPY
  messages for the fast path) and nothing is accumulated.
- The machine has 2 CPUs; with a load average near 1 the spread between runs of one path is
  about 10 %; "best" is the least disturbed run, "median" the typical one.
"""


if __name__ == "__main__":
    main()
