"""JSON:API list speed: the service's read path against stock DRF-JSONAPI and against a raw
``.values()`` + orjson dump of the same rows, in the same process.

    .venv/bin/python benchmarks/list_speed.py [--databases postgres,sqlite]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_list] [--jobs 5000]
        [--exports 1000] [--files 2] [--repeat 15] [--profile] [--record benchmarks/list_speed.md]

For each database (each in its own child process, since Django is set up once per process)
the script creates its own database (PostgreSQL: dropped and created, its name must contain
"bench"; SQLite: a temporary file), migrates it with ``manage.py migrate``, seeds one project
(plus a second one, which scoping must leave out) with ``--jobs`` jobs and ``--exports``
exports of ``--files`` files each, every export pointing at one of the jobs, and then measures
through Django's test client (the whole middleware and DRF stack, API-key authentication
included), interleaving the variants, ``--repeat`` times each:

- ``raw`` (a): the same rows, fetched with ``.values()`` (the page, then the included rows by
  id, as the prefetches do) and dumped with orjson as ``{"data": [...], "included": [...]}``;
- ``stock`` (b): the view with ``JSONAPI_FAST_PATH=False``: DRF-JSONAPI's serializers and
  document building, as shipped before the fast path (its final encoding is orjson too);
- ``fast`` (c): the view as shipped (the read path, ``syncservice.jsonapi.read``: both lists
  are built from ``.values()`` rows, the exports' method fields and the ``events`` of exports
  and jobs by their apps' row hooks).

It prints median times, ``c/a`` (goal <= 1.5) and ``b/c`` (goal >= 4), ``c/a`` in this process's
CPU time as well (on a shared machine wall time also counts the waits for a core; on
PostgreSQL the server's CPU is not in it), checks that the fast and stock documents are the
same JSON, and prints the SQL query count of each list for page sizes
1, 100 and 1000 (which must be equal). ``--profile`` prints a pyinstrument profile of the fast
path (``pip install pyinstrument``). ``--record FILE`` adds the run's results, dated, above the
earlier runs recorded there.
"""

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
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PYTHON = sys.executable
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/bench_list"

JOB_FIELDS = ("job_class,queue,status,priority,progress,retry_count,payload,error,"
              "scheduled_at,started_at,finished_at,created_at,updated_at,project")
LISTS = {
    "jobs": "/api/v1/jobs?page[size]={size}&included=project&fields=" + JOB_FIELDS,
    "exports": "/api/v1/exports?page[size]={size}&included=job,files",
}
QUERY_SIZES = (1, 100, 1000)
C_OVER_A_GOAL = 1.5

sys.path.insert(0, str(ROOT))

from benchmarks._machine import (  # noqa: E402 - after the path is set
    machine as common_machine,
)
from benchmarks._machine import package_version  # noqa: E402

# --- the database ---------------------------------------------------------------------------

def recreate_postgres(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    if not name or name.startswith("test_") or "bench" not in name:
        raise SystemExit(f"Refusing to drop/create database {name!r}: use a name containing "
                         "'bench' (not test_*).")
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_postgres(url: str) -> None:
    import psycopg
    from psycopg import sql

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(urlsplit(url).path.lstrip("/"))))


def child_env(url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "syncservice.settings",
            "PYTHONPATH": str(ROOT), "DEBUG": "false", "LOG_LEVEL": "WARNING"}


def migrate(url: str) -> None:
    # --skip-checks: the benchmark needs the schema, not a system check of every app.
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "--skip-checks", "-v", "0"],
                   cwd=ROOT, env=child_env(url), check=True)


# --- seeding --------------------------------------------------------------------------------

def seed(n_jobs: int, n_exports: int, n_files: int) -> str:
    """Seed the database; return a read API key of the benchmark project."""
    import random
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from exports.models import Export, ExportFile
    from jobs.models import Job
    from syncservice.accounts.models import Project
    from syncservice.accounts.services import create_api_key

    rng = random.Random(42)
    project = Project.objects.create(name="bench", description="list speed benchmark")
    other = Project.objects.create(name="other")
    _, key = create_api_key(project, name="bench")
    now = timezone.now()

    def when(days: float):
        # Microseconds on most, whole seconds on some: both ISO forms are exercised.
        moment = now - timedelta(seconds=rng.uniform(0, days * 86400))
        return moment.replace(microsecond=0) if rng.random() < 0.2 else moment

    statuses = ["succeeded", "failed", "cancelled", "succeeded", "succeeded"]
    jobs = []
    for index in range(n_jobs):
        status = statuses[index % len(statuses)]
        started = when(30)
        jobs.append(Job(
            project=project if index % 20 else other if index % 40 == 0 else project,
            job_class=rng.choice(["exports.build", "syncs.run", "jobs.noop", "demo.report"]),
            queue=rng.choice(["default", "exports", "syncs"]),
            payload={"n": index, "tags": ["a", "b"], "options": {"dry": index % 3 == 0}},
            priority=rng.randint(-5, 5), status=status, progress=rng.randint(0, 100),
            retry_count=rng.randint(0, 3), max_retries=3,
            error="" if status != "failed" else f"ValueError: row {index} is bad",
            error_details=None if status != "failed" else {"type": "ValueError",
                                                           "trace": ["a.py:1", "b.py:2"]},
            unicity=None, scheduled_at=started, started_at=started,
            finished_at=started + timedelta(seconds=rng.randint(1, 600)),
            heartbeat_at=started + timedelta(seconds=5), worker_id=f"host:{index % 7}",
            result={"rows": index * 3} if status == "succeeded" else None,
            checkpoint=None, created_by_id=f"key:{index % 5}"))
    Job.objects.bulk_create(jobs, batch_size=1000)
    # auto_now_add stamps every row alike: spread created_at so the default sort is real.
    for job in jobs:
        job.created_at = job.started_at - timedelta(seconds=1)
    Job.objects.bulk_update(jobs, ["created_at"], batch_size=1000)

    export_jobs = [job for job in jobs if job.project_id == project.pk]
    exports = []
    for index in range(n_exports):
        status = "success" if index % 10 else "failed"
        started = when(30)
        exports.append(Export(
            project=project, job=export_jobs[index % len(export_jobs)],
            created_by_id=f"key:{index % 5}", resource_type=rng.choice(["jobs", "exports"]),
            format=rng.choice(["csv", "jsonl", "parquet"]), status=status,
            filters={"status": "failed"} if index % 2 else {}, fields=["id", "status"],
            includes=[], dry_data=False, compress=index % 4 == 0,
            records_count=rng.randint(0, 10**6), size=rng.randint(0, 10**9),
            filename=f"export-{index}.csv", mime_type="text/csv", started_at=started,
            completed_at=started + timedelta(seconds=30), interrupted_at=None,
            expires_at=started + timedelta(days=7),
            errors_log=None if status == "success" else [{"error": "boom"}],
            reference=f"ref-{index}", reference_origin="bench", metadata={"i": index}))
    Export.objects.bulk_create(exports, batch_size=1000)
    for export in exports:
        export.created_at = export.started_at
    Export.objects.bulk_update(exports, ["created_at"], batch_size=1000)
    ExportFile.objects.bulk_create(
        (ExportFile(export=export, index=number, storage_name=f"exports/{export.pk}/{number}",
                    filename=f"export-{i}-{number}.csv", size=rng.randint(0, 10**8),
                    records_count=rng.randint(0, 10**6), sha256=f"{i:064x}",
                    mime_type="text/csv")
         for i, export in enumerate(exports) for number in range(1, n_files + 1)),
        batch_size=2000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return key


# --- the variants ---------------------------------------------------------------------------

def raw_jobs(project_ids, size: int) -> bytes:
    import orjson

    from jobs.models import Job
    from syncservice.accounts.models import Project

    names = [name for name in JOB_FIELDS.split(",") if name != "project"]
    rows = list(Job.objects.filter(project_id__in=project_ids).order_by("-created_at", "-pk")
                .values("id", "project_id", *names)[:size])
    project_rows = list(Project.objects.filter(pk__in={row["project_id"] for row in rows})
                        .values("id", "name", "description", "created_at", "updated_at"))
    return orjson.dumps({"data": rows, "included": project_rows})


def raw_exports(project_ids, size: int) -> bytes:
    import orjson

    from exports.models import Export, ExportFile
    from jobs.models import Job

    rows = list(Export.objects.filter(project_id__in=project_ids)
                .order_by("-created_at", "-pk").values()[:size])
    job_rows = list(Job.objects.filter(pk__in={row["job_id"] for row in rows}).values())
    file_rows = list(ExportFile.objects.filter(export_id__in=[row["id"] for row in rows])
                     .values())
    return orjson.dumps({"data": rows, "included": job_rows + file_rows})


RAW = {"jobs": raw_jobs, "exports": raw_exports}


def child(args) -> None:
    """One database: migrate, seed, measure; prints one JSON line."""
    url = args.database_url
    if url.startswith("postgres"):
        recreate_postgres(url)
    migrate(url)
    os.environ.update(child_env(url))
    import django

    django.setup()
    import orjson
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from syncservice.accounts.models import Project

    started = time.perf_counter()
    key = seed(args.jobs, args.exports, args.files)
    seeded = time.perf_counter() - started
    project_ids = list(Project.objects.filter(name="bench").values_list("pk", flat=True))
    client = Client(HTTP_X_API_KEY=key, HTTP_ACCEPT="application/vnd.api+json")

    def get(url: str, fast: bool) -> bytes:
        with override_settings(JSONAPI_FAST_PATH=fast):
            response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:500])
        return response.content

    results: dict = {"database": connection.vendor, "seconds_seeding": seeded, "lists": {}}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            results["server"] = "PostgreSQL " + cursor.fetchone()[0]
    else:
        import sqlite3

        results["server"] = "SQLite " + sqlite3.sqlite_version

    for name, template in LISTS.items():
        url = template.format(size=1000)
        fast_doc, stock_doc = orjson.loads(get(url, True)), orjson.loads(get(url, False))
        if fast_doc != stock_doc:
            raise SystemExit(f"{name}: the fast and stock documents differ")
        assert len(fast_doc["data"]) == 1000, len(fast_doc["data"])
        variants = {
            "raw": lambda name=name: RAW[name](project_ids, 1000),
            "stock": lambda url=url: get(url, False),
            "fast": lambda url=url: get(url, True),
        }
        times: dict[str, list[float]] = {variant: [] for variant in variants}
        # CPU time of this process too: on a machine shared with other work, wall time
        # counts the waits for a core, which weigh more on the longer variant.
        cpu: dict[str, list[float]] = {variant: [] for variant in variants}
        for run in variants.values():  # warm-up
            run()
        for _ in range(args.repeat):
            for variant, run in variants.items():
                begin, begin_cpu = time.perf_counter(), time.process_time()
                run()
                times[variant].append(time.perf_counter() - begin)
                cpu[variant].append(time.process_time() - begin_cpu)
        medians = {variant: statistics.median(values) for variant, values in times.items()}
        cpu_medians = {variant: statistics.median(values) for variant, values in cpu.items()}
        queries: dict[str, dict[int, int]] = {"fast": {}, "stock": {}}
        for size in QUERY_SIZES:
            for variant in queries:
                with CaptureQueriesContext(connection) as captured:
                    get(template.format(size=size), variant == "fast")
                queries[variant][size] = len(captured.captured_queries)
        results["lists"][name] = {
            "url": url, "bytes": len(get(url, True)), "included": len(fast_doc["included"]),
            "median_ms": {variant: value * 1000 for variant, value in medians.items()},
            "c_over_a": medians["fast"] / medians["raw"],
            "cpu_c_over_a": cpu_medians["fast"] / cpu_medians["raw"],
            "b_over_c": medians["stock"] / medians["fast"],
            "queries": queries}
        if args.profile:
            profile(lambda url=url: get(url, True), name)
    print("RESULT " + json.dumps(results), flush=True)


def profile(run, name: str) -> None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("(pyinstrument is not installed: pip install pyinstrument)", file=sys.stderr)
        return
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(20):
        run()
    profiler.stop()
    print(f"--- profile of the fast path: {name} (20 requests) ---", file=sys.stderr)
    print(profiler.output_text(unicode=True, color=False, show_all=False), file=sys.stderr)


# --- the report -----------------------------------------------------------------------------

def machine() -> dict[str, str]:
    import rest_framework
    import rest_framework_json_api

    info = common_machine()
    return {**info, "versions": f"Django {info['django']}, DRF {rest_framework.VERSION}, "
                                f"DRF-JSONAPI {rest_framework_json_api.__version__}, "
                                f"orjson {package_version('orjson')}"}


def report(info: dict, runs: list[dict], args) -> str:
    lines = [
        f"Run: {info['date']}; {info['cpu']}, {info['memory']} RAM; {info['os']}; "
        f"Python {info['python']}; {info['versions']}; load average at the end "
        f"{info['load']}. Seed: {args.jobs:,} jobs, "
        f"{args.exports:,} exports x {args.files} files; {args.repeat} timed requests per "
        "variant (medians), interleaved.",
        "",
        "| database | list | bytes | raw (a) ms | stock (b) ms | fast (c) ms | c/a (<= 1.5) "
        "| b/c (>= 4) | c/a, CPU | queries fast, page 1/100/1000 | queries stock, 1/100/1000 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for run in runs:
        for name, line in run["lists"].items():
            ms = line["median_ms"]
            queries = {variant: "/".join(str(line["queries"][variant][str(size)])
                                         for size in QUERY_SIZES)
                       for variant in ("fast", "stock")}
            lines.append(
                f"| {run['server']} | {name} | {line['bytes']:,} | {ms['raw']:.1f} | "
                f"{ms['stock']:.1f} | {ms['fast']:.1f} | {line['c_over_a']:.2f} | "
                f"{line['b_over_c']:.2f} | {line['cpu_c_over_a']:.2f} | {queries['fast']} | "
                f"{queries['stock']} |")
    lines += ["", "URLs (page[size]=1000):", ""]
    lines += [f"- {name}: `{template.format(size=1000)}`" for name, template in LISTS.items()]
    return "\n".join(lines)


def run_child(args, url: str) -> dict:
    command = [PYTHON, __file__, "--child", "--database-url", url, "--jobs", str(args.jobs),
               "--exports", str(args.exports), "--files", str(args.files),
               "--repeat", str(args.repeat)] + (["--profile"] if args.profile else [])
    process = subprocess.run(command, cwd=ROOT, env=child_env(url), stdout=subprocess.PIPE,
                             text=True)
    lines = [line for line in process.stdout.splitlines() if line.startswith("RESULT ")]
    if process.returncode != 0 or not lines:
        print(process.stdout)
        raise SystemExit(f"The benchmark on {url} failed ({process.returncode}).")
    return json.loads(lines[-1][len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="postgres,sqlite",
                        help="comma list of postgres, sqlite")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 DEFAULT_POSTGRES))
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--exports", type=int, default=1000)
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--record", type=Path, help="write the results (markdown) here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    runs = []
    started = time.monotonic()
    for database in [d.strip() for d in args.databases.split(",") if d.strip()]:
        if database == "postgres":
            try:
                runs.append(run_child(args, args.database_url))
            finally:
                drop_postgres(args.database_url)
        elif database == "sqlite":
            with tempfile.TemporaryDirectory(prefix="bench-list-") as tmp:
                runs.append(run_child(args, f"sqlite:///{tmp}/bench_list.sqlite3"))
        else:
            raise SystemExit(f"Unknown database {database!r}: postgres or sqlite.")
    text = report(machine(), runs, args)
    print(text)
    failed = [f"{run['server']} {name}" for run in runs for name, line in run["lists"].items()
              if line["c_over_a"] > C_OVER_A_GOAL or line["b_over_c"] < 4
              or len({line["queries"][v][str(s)] for v in ("fast",) for s in QUERY_SIZES}) != 1]
    print(f"\nWhole run: {time.monotonic() - started:.0f} s; goals "
          + ("met." if not failed else f"NOT met: {', '.join(failed)}."))
    if args.record:
        args.record.write_text(record(args.record, text))


RUN_HEADER = "### "


def record(path: Path, text: str) -> str:
    """The file's text with this run's results first, then the earlier runs it recorded."""
    earlier = ""
    if path.exists():
        old = path.read_text()
        start = old.find("## Results\n")
        end = old.find(RECORD_TAIL.strip().splitlines()[0])
        if start >= 0 and end > start:
            earlier = old[start + len("## Results\n"):end].strip()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    sections = [f"{RUN_HEADER}{when}: the read path (`syncservice.jsonapi.read`)\n\n{text}"]
    if earlier:
        sections.append(earlier)
    return RECORD_HEAD + "## Results\n\n" + "\n\n".join(sections) + "\n" + RECORD_TAIL


RECORD_HEAD = """# JSON:API list speed (`benchmarks/list_speed.py`)

Goals ("Simplify the two over-tuned cores"): the service's list responses within 1.5x of a raw
`.values()` + orjson dump of the same rows (c/a <= 1.5; the API speed issue before it asked
2.5x), at least 4x faster than stock DRF-JSONAPI for the same view (b/c >= 4), and the same
number of SQL queries for page sizes 1, 100 and 1000.

    .venv/bin/python benchmarks/list_speed.py --record benchmarks/list_speed.md

Each database runs in its own process: a fresh database (PostgreSQL: `bench_list` by default,
dropped afterwards; SQLite: a temporary file), `manage.py migrate`, then 5,000 jobs and 1,000
exports of 2 files each (every export points at one of the jobs) in one project, plus rows of a
second project that scoping leaves out. Requests go through Django's test client: every
middleware, API-key authentication, content negotiation, the query grammar, pagination (no
COUNT) and rendering. The variants are interleaved and the medians compared:

- **raw (a)**: the page's rows with `.values()` (the sparse fieldset's columns for jobs, every
  column for exports), the included rows by id (projects; jobs and files), `orjson.dumps` of
  `{"data": [...], "included": [...]}`: no HTTP, no JSON:API shaping, no links;
- **stock (b)**: the same view with `JSONAPI_FAST_PATH=False`: DRF-JSONAPI's serializers and
  renderer (`syncservice.jsonapi.renderers` still encodes with orjson);
- **fast (c)**: the view as shipped: the read path (`syncservice.jsonapi.read`) since
  2026-12-06, `syncservice.jsonapi.fast` in the earlier runs.

Before timing, the script checks that the fast and stock documents are the same JSON.

"""

RECORD_TAIL = """
Reading the figures: the machine is shared (other test suites ran alongside; see the load
average), so absolute times are inflated and vary from run to run; the ratios come from
interleaved requests.

## What the read path does (`syncservice/jsonapi/read/`)

- **Specs, once per serializer class** (`spec.py`): from the serializer's bound fields and
  `Model._meta` only, each attribute's column and how DRF represents it (returned as is, aware
  UTC datetimes handed to orjson, which writes DRF's ISO text with `Z`, or the field's own
  `to_representation`), each relationship's kind (FK column, reverse FK, method relationship),
  the `self` link's route. Fields computed per instance (method fields, dotted sources) are
  marked so; a field no spec reads sends the request to the stock path.
- **Two sources, chosen per request** (`document.py`): when every rendered field is a column,
  the page is the view's own filtered, sorted, paginated queryset as `.values()` with the to-one
  included resources joined in (but the tenancy FK's: one query by id), and each to-many
  relation walked costs one `.values()` query (`rows.py`; rows already read are reused; a
  to-many query grouped by parent drops ordering terms that sort by the parent itself, a join,
  when the rest orders each parent's rows totally);
  otherwise the document is built from the view's instances (its
  `select_related`, prefetches and attached events), method fields through DRF's field API.
- **Columns read as text** (`text.py`, SQLite and PostgreSQL in a UTC zone): a datetime DRF
  writes in ISO 8601 is written so by the database (`DatetimeText`: `to_char` in UTC on
  PostgreSQL, Django's stored text re-arranged on SQLite; any other stored shape is parsed in
  Python), a `JSONField` is read as its text and parsed by orjson (`json.loads` for what orjson
  would read otherwise: integers beyond 64 bits, NaN, lone surrogates). Django's per-value
  converters (the Python timestamptz loader, `json.loads`) are skipped for those columns; sort
  columns (read by cursor links) and columns a hook reads keep their Python values.
- **One compiled builder per resource type and request** (`compiled.py`): the recipe (spec
  under the sparse fieldset) written as the Python source of a function from a row to the
  resource object (a dict display, one branch per relationship kind), its code cached by its
  text; documents of instances use the generic `Reader.resource`.
- **Links** (`links.py`): one real reverse per route and request, then a template; serializer
  methods' `reverse(..., request=request)` calls use the templates through DRF's
  versioning-scheme hook.
- **Includes walked as DRF-JSONAPI walks them** (quirks included), `included` sorted by type
  then id. Byte equality with the stock path: `tests/jsonapi/test_fast_path.py` (every list and
  show) and `tests/jsonapi/test_read_path_property.py` (hypothesis: query strings of the whole
  grammar for every collection).
- No copy of Django internals, no version gate, no garbage-collector pausing, no private DRF
  API. ETag/304 and gzip live in `syncservice/jsonapi/http_middleware.py`.

Not in the figures: gzip (the benchmark client does not send Accept-Encoding), and the cost of
the timestamptz loader Django registers on psycopg (a pure-Python parser, roughly half of the raw
baseline's time on PostgreSQL), which all three variants pay alike.

## Keyset-friendly indexes (proposed, not in this change)

The default sorts are `-created_at` then `-id` (jobs, exports, sync runs) and `name` then `id`
(syncs). With today's `(project_id, created_at DESC)` PostgreSQL reads the page off the index
and sorts the ties (Incremental Sort); with `(project_id, created_at DESC, id DESC)` the page is
a plain index scan, and so is a keyset seek `(created_at, id) < (...)`. On 300,000 jobs of one
project (PostgreSQL 15, `EXPLAIN ANALYZE`, page of 1,001 rows):

| index | offset 0 | offset 100,000 | keyset seek |
|---|---:|---:|---:|
| `(project_id, created_at DESC)` | 0.54 ms (incr. sort) | 71 ms | 0.55 ms (incr. sort) |
| `(project_id, created_at DESC, id DESC)` | 0.35 ms (index scan) | 56 ms | 0.40 ms (index scan) |

A modest gain (the existing index already avoids a full sort); deep offsets stay linear either
way, which only a keyset (cursor) page parameter would fix. The model and migration changes are
not part of this change (they belong to the jobs, exports and syncs apps).
"""


if __name__ == "__main__":
    main()
