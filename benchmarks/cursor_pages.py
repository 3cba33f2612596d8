"""Deep pages: ``page[number]`` (OFFSET) against ``page[after]`` (keyset seek) on PostgreSQL.

    .venv/bin/python benchmarks/cursor_pages.py [--rows 1000100] [--size 100] [--repeat 21]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_cursor]
        [--record benchmarks/cursor_pages.md]

In a child process the script creates its own database (dropped and created; its name must
contain "bench"), migrates it with ``manage.py migrate``, and seeds ``--rows`` jobs in one
project (plus 1% as many in a second project, which scoping leaves out) with distinct,
spread ``created_at`` values — the default sort of ``GET /api/v1/jobs`` is ``-created_at`` then
``-id``. Rows are copied from one template job by ``INSERT … SELECT generate_series`` (the
columns do not matter here, the sort keys and the project do), then ``VACUUM ANALYZE``.

For each depth (rows before the page: 0, 10,000, 100,000, 1,000,000) it times the page of
``--size`` rows at that depth through Django's test client (middleware, API-key
authentication, the query grammar, pagination and rendering), in ``--repeat`` rounds that
each time every depth and variant once:

- ``number``: ``?page[size]=S&page[number]=depth/S + 1`` (an OFFSET of ``depth`` rows);
- ``after``: ``?page[size]=S&page[after]=<cursor of the row just before the page>`` (the
  cursor is built once from that row, as the previous page's ``links.next`` carries it).

Both answers are checked to be the same rows. The baseline is each family's first page
(depth 0) measured in the same run; ratios are depth / baseline. Goal: ``page[after]`` at
depth 100,000 (and 1,000,000) within 1.5x of its first page.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PYTHON = sys.executable
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/bench_cursor"
DEPTHS = (0, 10_000, 100_000, 1_000_000)
GOAL = 1.5

sys.path.insert(0, str(ROOT))

from benchmarks._machine import machine  # noqa: E402 - after the path is set


def admin_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not name or name.startswith("test_") or "bench" not in name:
        raise SystemExit(f"Refusing to drop/create database {name!r}: use a name containing "
                         "'bench' (not test_*).")
    return name


def recreate_postgres(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = database_name(url)
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_postgres(url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(database_name(url))))


def child_env(url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "syncservice.settings",
            "PYTHONPATH": str(ROOT), "DEBUG": "false", "LOG_LEVEL": "WARNING",
            "API_RATE_LIMIT": "1000000/min"}


def seed(rows: int) -> str:
    """``rows`` jobs of the benchmark project (and rows/100 of another); a read key."""
    from django.db import connection

    from jobs.models import Job
    from syncservice.accounts.models import Project
    from syncservice.accounts.services import create_api_key

    project = Project.objects.create(name="bench", description="cursor pages benchmark")
    other = Project.objects.create(name="other")
    _, key = create_api_key(project, name="bench")
    template = Job.objects.create(project=project, job_class="jobs.noop", status="succeeded",
                                  payload={"n": 0, "tags": ["a", "b"]})
    columns = [f.column for f in Job._meta.concrete_fields
               if f.column not in ("id", "project_id", "created_at")]
    listed = ", ".join(f'"{c}"' for c in columns)
    copied = ", ".join(f'j."{c}"' for c in columns)
    table = Job._meta.db_table
    with connection.cursor() as cursor:
        for target, count in ((project.pk, rows - 1), (other.pk, max(rows // 100, 1))):
            # One row every 10 ms, newest first; the second project's interleaved.
            cursor.execute(
                f'INSERT INTO "{table}" (id, project_id, created_at, {listed}) '
                f"SELECT gen_random_uuid(), %s, j.created_at - n * interval '10 milliseconds', "
                f"{copied} FROM \"{table}\" j CROSS JOIN generate_series(1, %s) AS n "
                "WHERE j.id = %s", [target, count, template.pk])
        cursor.execute("VACUUM ANALYZE")
    return key


def child(args) -> None:
    url = args.database_url
    recreate_postgres(url)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "--skip-checks", "-v", "0"],
                   cwd=ROOT, env=child_env(url), check=True)
    os.environ.update(child_env(url))
    import django

    django.setup()
    import orjson
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from jobs.api.views import JobViewSet
    from jobs.models import Job
    from syncservice.accounts.models import Project
    from syncservice.jsonapi.pagination import cursor_for

    started = time.perf_counter()
    key = seed(args.rows)
    seeded = time.perf_counter() - started
    project = Project.objects.get(name="bench")
    client = Client(HTTP_X_API_KEY=key, HTTP_ACCEPT="application/vnd.api+json")
    size = args.size
    base = f"/api/v1/jobs?fields=status,created_at&page[size]={size}"
    terms = JobViewSet().order_by_terms([])
    ordered = Job.objects.filter(project=project).order_by(*terms)

    urls = {}
    for depth in DEPTHS:
        if depth + size > args.rows:
            continue
        if depth == 0:
            after = ""
        else:
            before_page = ordered.only("id", "created_at")[depth - 1]  # once, not timed
            after = cursor_for(Job, terms, before_page)
        urls[depth] = {"number": f"{base}&page[number]={depth // size + 1}",
                       "after": f"{base}&page[after]={after}"}

    def get(url: str) -> bytes:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
        return response.content

    results: dict = {"seconds_seeding": seeded, "depths": {}}
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        results["server"] = "PostgreSQL " + cursor.fetchone()[0]
    for depth, pair in urls.items():
        ids = {name: [item["id"] for item in orjson.loads(get(url))["data"]]
               for name, url in pair.items()}
        assert ids["number"] == ids["after"] and len(ids["after"]) == size, depth
        queries = {}
        for name, url in pair.items():
            with CaptureQueriesContext(connection) as captured:
                get(url)
            queries[name] = len(captured.captured_queries)
        results["depths"][str(depth)] = {"queries": queries}
    # Every depth and variant in each round: a burst of load on the (shared) machine falls on
    # all of them alike rather than on one depth's series.
    timings = {(depth, name): [] for depth, pair in urls.items() for name in pair}
    for _ in range(args.repeat):
        for (depth, name), values in timings.items():
            began = time.perf_counter()
            get(urls[depth][name])
            values.append((time.perf_counter() - began) * 1000)
    for depth in urls:
        results["depths"][str(depth)]["median_ms"] = {
            name: statistics.median(timings[depth, name]) for name in ("number", "after")}
    print("RESULT " + json.dumps(results))


def report(info: dict, result: dict, args) -> str:
    depths = result["depths"]
    base = depths["0"]["median_ms"]
    lines = [
        f"Run: {info['date']}; {info['cpu']}, {info['memory']} RAM; {info['os']}; Python "
        f"{info['python']}; Django {info['django']}; {result['server']}; load average at the "
        f"end {info['load']}. Seed: {args.rows:,} jobs in the project (+{args.rows // 100:,} "
        f"in another), {result['seconds_seeding']:.0f} s; page[size]={args.size}; "
        f"{args.repeat} rounds, each timing every depth and variant once (medians).",
        "",
        "| rows before the page | page[number] ms | x its page 1 | page[after] ms "
        f"| x its page 1 (goal <= {GOAL}) | queries number/after |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for depth, line in depths.items():
        ms = line["median_ms"]
        lines.append(
            f"| {int(depth):,} | {ms['number']:.1f} | {ms['number'] / base['number']:.2f} | "
            f"{ms['after']:.1f} | {ms['after'] / base['after']:.2f} | "
            f"{line['queries']['number']}/{line['queries']['after']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 DEFAULT_POSTGRES))
    parser.add_argument("--rows", type=int, default=1_000_100)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--record", type=Path, help="write the results (markdown) here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    database_name(args.database_url)
    command = [PYTHON, __file__, "--child", "--database-url", args.database_url,
               "--rows", str(args.rows), "--size", str(args.size), "--repeat",
               str(args.repeat)]
    started = time.monotonic()
    try:
        process = subprocess.run(command, cwd=ROOT, env=child_env(args.database_url),
                                 stdout=subprocess.PIPE, text=True)
    finally:
        drop_postgres(args.database_url)
    lines = [line for line in process.stdout.splitlines() if line.startswith("RESULT ")]
    if process.returncode != 0 or not lines:
        print(process.stdout)
        raise SystemExit(f"The benchmark failed ({process.returncode}).")
    result = json.loads(lines[-1][len("RESULT "):])
    text = report(machine(), result, args)
    print(text)
    deep = [line["median_ms"]["after"] / result["depths"]["0"]["median_ms"]["after"]
            for depth, line in result["depths"].items() if int(depth) >= 100_000]
    met = bool(deep) and all(ratio <= GOAL for ratio in deep)
    print(f"\nWhole run: {time.monotonic() - started:.0f} s; goal "
          + ("met." if met else "NOT met."))
    if args.record:
        args.record.write_text(RECORD_HEAD + "## Results\n\n" + text + "\n")


RECORD_HEAD = """# Deep pages: page[number] against page[after] (`benchmarks/cursor_pages.py`)

Goal (reference fidelity issue): a cursor page (`page[after]`, a keyset seek over the sort
keys + id) deep in a collection costs what its first page costs: at 100,000 and 1,000,000 rows
before the page, within 1.5x of page 1, measured in the same run. `page[number]` (OFFSET) is
shown beside it for comparison.

    .venv/bin/python benchmarks/cursor_pages.py --record benchmarks/cursor_pages.md

PostgreSQL only: a fresh database (`bench_cursor`, dropped afterwards), `manage.py migrate`,
then 1,000,100 jobs in one project (and 1% as many in another, left out by scoping) copied
from one template row by `INSERT … SELECT generate_series`, one every 10 ms (newest first),
then `VACUUM ANALYZE`. `GET /api/v1/jobs?fields=status,created_at&page[size]=100` at each
depth, through Django's test client (middleware, API-key authentication, query grammar,
pagination, rendering): `page[number]` = depth/100 + 1 against `page[after]` = the cursor of
the row just before the page (as the previous page's `links.next` carries it); both answers
are checked to be the same rows. Each of 21 rounds times every depth and variant once (a burst
of load on the shared machine falls on all alike); medians. The keyset index is
`jobs_job_project_keyset` (project, -created_at, -id).

"""


if __name__ == "__main__":
    main()
