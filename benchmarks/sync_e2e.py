"""End to end: a local paginated JSON API into PostgreSQL (upsert on ``id``), ours against dlt
and a plain ``COPY``, measured from outside each process.

    .venv/bin/python benchmarks/sync_e2e.py [--records 1000000] [--small-records 200000]
        [--modes ours,ours-inline,dlt-defaults,dlt-tuned,copy]
        [--dlt-python /tmp/dltvenv/bin/python]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_sync_e2e]
        [--record benchmarks/sync_e2e.md]

dlt lives in a virtualenv of its own (installing it into the project's would upgrade
setuptools): ``python3 -m venv /tmp/dltvenv && /tmp/dltvenv/bin/pip install
'dlt[postgres]>=1.31,<2'``; ``--dlt-python`` names its interpreter.

The API runs in a process of its own (``--serve``): ``GET /records`` answers pages of 1,000
records (``sync_load.make_record``: ~260 bytes, a nested ``customer`` object and a ``tags``
list) in ``updated_at`` order, ``{"data": [...], "next": "<url of the next page>"}``;
``updated_since=<ISO instant>`` starts after that instant. The pages of the whole stream are
rendered before the clock starts (a request past ``updated_since`` at the first record or
later is rendered when asked: only the no-change run asks for one, and it is empty), so the
server costs a lookup and a write per page. The script first reads every page once with one
client to show the server is not the bottleneck.

Then, for each size, each contender loads the stream into a fresh table, then loads it again
with nothing changed (the incremental run: its cursor is at the last record):

- ``ours``: a connection (``http_api``, ``next_url`` pagination, cursor ``updated_at`` sent as
  ``updated_since``) and a sync with an upsert binding on ``id``, created through the service
  layer; each run triggered through ``syncs.services.trigger`` and executed by a real worker
  process (``manage.py run_worker --burst``), which is what is timed;
- ``ours-inline``: the same with ``SYNCS_READ_AHEAD_ROWS=0`` (the source read inline, a
  write per page: the run path before syncs.pipeline);
- ``dlt-defaults``: dlt's ``rest_api`` source (``json_link`` paginator, an ``incremental``
  ``updated_since`` param) into its ``postgres`` destination, ``merge`` on ``id``, every
  setting at its default (nested lists unnested into a child table);
- ``dlt-tuned``: the same at the fastest settings found: ``csv`` loader files, nesting off
  (``max_table_nesting=0``: objects and lists stay JSON columns, as ours keeps them), the
  ``upsert`` merge strategy, parallel normalize workers and bigger buffers (see TUNED_ENV);
- ``copy``: the floor: the same records generated in-process and sent by one ``COPY`` into a
  plain table with the loader's columns (no index), as ``sync_load.py``'s baseline.

Each contender is a child process: wall time from spawn to exit, CPU (user + system, with its
own children) and peak RSS from ``os.wait4``. Every load is checked (row count, distinct ids;
ours: the run succeeded and its checkpoint is the last record's). PostgreSQL's own CPU is not
counted (other sessions share the server). ``--record FILE`` writes the table into ``FILE``
between markers.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PYTHON = sys.executable
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_sync_e2e"
DEFAULT_DLT_PYTHON = "/tmp/dltvenv/bin/python"
PAGE = 1000
ENTITY = "records"
CHILD_TIMEOUT = 3600.0
MODES = ("ours", "ours-inline", "dlt-defaults", "dlt-tuned", "copy")
GOALS = {"dlt-tuned": 2.0, "copy": 0.35}  # ours' rows/s over theirs (issue 17, P6)
# dlt's fastest settings found here (dlt 1.31, 2 cores): each one is read by dlt from the
# environment (its config providers); the source-level ones are in dlt_child.
TUNED_ENV = {"NORMALIZE__WORKERS": "2", "DATA_WRITER__BUFFER_MAX_ITEMS": "100000",
             "DATA_WRITER__FILE_MAX_ITEMS": "1000000", "NORMALIZE__START_METHOD": "fork"}

sys.path.insert(0, str(ROOT))

from benchmarks import _database  # noqa: E402 - after the path is set
from benchmarks._records import replace_results  # noqa: E402
from benchmarks.sync_load import make_record  # noqa: E402

# --- the API --------------------------------------------------------------------------------

class Pages:
    """The stream's pages, rendered once (orjson when the interpreter has it)."""

    def __init__(self, records: int, base: str) -> None:
        try:
            import orjson
            self.dumps = orjson.dumps
        except ImportError:  # pragma: no cover - the project's venv has it
            self.dumps = lambda value: json.dumps(value, separators=(",", ":")).encode()
        self.base = base
        self.records = [make_record(i) for i in range(1, records + 1)]
        self.instants = [r["updated_at"] for r in self.records]
        self.rendered = [self.render(start, None)
                         for start in range(0, len(self.records), PAGE)] or [self.render(0, None)]

    def render(self, start: int, since: str | None) -> bytes:
        chunk = self.records[start:start + PAGE]
        following = start + PAGE
        link = None
        if following < len(self.records):
            link = f"{self.base}/records?page={following // PAGE + 1}" if since is None else \
                f"{self.base}/records?updated_since={since}&offset={following}"
        return self.dumps({"data": chunk, "next": link})

    def answer(self, query: dict) -> bytes:
        since = (query.get("updated_since") or [None])[0]
        if "offset" in query:
            return self.render(int(query["offset"][0]), since)
        page = int((query.get("page") or ["1"])[0])
        first = bisect.bisect_right(self.instants, since) if since else 0
        if first == 0:  # the whole stream: pre-rendered
            return self.rendered[page - 1] if page <= len(self.rendered) else \
                self.dumps({"data": [], "next": None})
        return self.render(first + (page - 1) * PAGE, since)


def serve(records: int, port_file: str) -> None:
    """The API process: renders the pages, then writes its port to ``port_file``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    pages = Pages(records, f"http://127.0.0.1:{server.server_port}")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real APIs
        disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms stall)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            if parts.path.rstrip("/") != "/records":
                self.send_error(404)
                return
            payload = pages.answer(parse_qs(parts.query))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            return None

    server.RequestHandlerClass = Handler
    Path(port_file).write_text(str(server.server_port))
    server.serve_forever()


def start_server(records: int) -> tuple[subprocess.Popen, str]:
    with tempfile.NamedTemporaryFile(delete=False) as handle:
        port_file = handle.name
    Path(port_file).unlink()
    process = subprocess.Popen([PYTHON, __file__, "--serve", "--records", str(records),
                                "--port-file", port_file], cwd=ROOT)
    deadline = time.monotonic() + 600
    while not Path(port_file).exists() or not Path(port_file).read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the API server did not start")
        time.sleep(0.1)
    port = Path(port_file).read_text()
    Path(port_file).unlink()
    return process, f"http://127.0.0.1:{port}"


def server_rate(base: str, pages: int) -> float:
    """Every page once with one keep-alive ``http.client`` connection, bodies read but not
    parsed: the server's pages/s."""
    import http.client

    connection = http.client.HTTPConnection(urlsplit(base).netloc)
    started = time.perf_counter()
    for page in range(1, pages + 1):
        connection.request("GET", f"/records?page={page}")
        connection.getresponse().read()
    connection.close()
    return pages / (time.perf_counter() - started)


# --- the database ---------------------------------------------------------------------------

def child_env(url: str) -> dict:
    return _database.child_env(url, OUTBOUND_ALLOWED_HOSTS="127.0.0.1", LOG_LEVEL="WARNING")


def recreate_database(url: str) -> None:
    _database.recreate_database(url, "bench_sync_e2e")
    _database.migrate(child_env(url))


def query(url: str, text: str, params=()) -> list:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(text, params)
        return cursor.fetchall() if cursor.description else []


# --- the contenders -------------------------------------------------------------------------

def django_step(step: str, api: str, size: int, sync_id: str) -> None:
    """Runs in a child process with Django set up (the parent stays small: a child's peak
    RSS as ``wait4`` tells it starts at the RSS of the process that forked it). Prints one
    JSON line.

    ``create``: a project, an http_api connection and an upsert sync, through the services;
    ``trigger``: a run of the sync (its job waits for a worker); ``check``: the last run
    succeeded, what it read, and (``size`` > 0) the table and the checkpoint."""
    import django

    django.setup()
    from syncs.loading import read_checkpoint
    from syncs.models import Sync, SyncRun
    from syncs.services import create_connection, create_sync, trigger
    from syncservice.accounts.models import Project

    if step == "create":
        project = Project.objects.create(name=f"e2e {size} {time.time_ns()}")
        connection = create_connection(project, provider="http_api", name="local api", config={
            "base_url": api, "auth": {"type": "none"}, "max_retries": 0,
            "pagination": {"type": "next_url", "next_url_path": "next"},
            "streams": [{"name": ENTITY, "path": "/records", "record_selector": "$.data",
                         "primary_key": ["id"], "cursor_field": "updated_at",
                         "cursor_param": "updated_since"}]})
        sync = create_sync(project, {
            "name": "e2e", "connection": connection, "entities": [ENTITY], "status": "active",
            "table_bindings": [{"entity_key": ENTITY, "load_mode": "upsert",
                                "primary_key_columns": ["id"]}]})
        print(json.dumps({"sync": str(sync.pk)}))
        return
    sync = Sync.objects.get(pk=sync_id)
    if step == "trigger":
        print(json.dumps({"run": str(trigger(sync).pk)}))
        return
    run = SyncRun.objects.filter(sync=sync).latest("created_at")
    if run.status != SyncRun.Status.SUCCEEDED:
        raise SystemExit(f"ours: run {run.pk} {run.status}: {run.error}")
    binding = sync.table_bindings.get()
    if size and read_checkpoint(binding) != make_record(size)["updated_at"]:
        raise SystemExit(f"ours: checkpoint {read_checkpoint(binding)!r}")
    print(json.dumps({"rows": run.summary.get("rows_read", 0),
                      "table": binding.physical_table_name}))


def django_child(url: str, step: str, api: str = "", size: int = 0, sync_id: str = "") -> dict:
    done = subprocess.run([PYTHON, __file__, "--django", step, "--api", api, "--records",
                           str(size), "--sync", sync_id, "--database-url", url], cwd=ROOT,
                          env=child_env(url), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"--django {step} failed:\n{done.stdout}{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_ours(url: str, sync_id: str, size: int, env: dict | None = None) -> dict:
    """One run: triggered, executed (and timed) by a worker process, checked."""
    django_child(url, "trigger", sync_id=sync_id)
    line = run_child([PYTHON, "manage.py", "run_worker", "--burst"],
                     {**child_env(url), **(env or {})})
    checked = django_child(url, "check", size=size, sync_id=sync_id)
    if size:
        check_count(url, f'"{checked["table"]}"', size, "ours")
    line["rows"] = checked["rows"]
    return line


def check_count(url: str, table: str, size: int, who: str) -> None:
    count, distinct = query(url, f"SELECT count(*), count(DISTINCT id) FROM {table}")[0]
    if (count, distinct) != (size, size):
        raise SystemExit(f"{who}: {table} holds {count} rows ({distinct} ids), not {size}")


def dlt_child(mode: str, api: str, url: str, pipelines_dir: str, dataset: str) -> None:
    """Runs under dlt's interpreter: one pipeline run; prints the rows it extracted."""
    import dlt
    from dlt.sources.rest_api import rest_api_source

    tuned = mode == "dlt-tuned"
    resource = {"name": ENTITY, "primary_key": "id",
                "write_disposition": {"disposition": "merge", "strategy": "upsert"} if tuned
                else "merge",
                "endpoint": {"path": "records", "data_selector": "data", "params": {
                    "updated_since": {"type": "incremental", "cursor_path": "updated_at",
                                      "initial_value": "1970-01-01T00:00:00Z"}}}}
    source = rest_api_source(
        {"client": {"base_url": api + "/",
                    "paginator": {"type": "json_link", "next_url_path": "next"}},
         "resources": [resource]}, max_table_nesting=0 if tuned else None)
    pipeline = dlt.pipeline(pipeline_name=dataset, pipelines_dir=pipelines_dir,
                            destination=dlt.destinations.postgres(credentials=with_password(url)),
                            dataset_name=dataset)
    pipeline.run(source, loader_file_format="csv" if tuned else None)
    counts = pipeline.last_trace.last_normalize_info.row_counts
    print(json.dumps({"rows": counts.get(ENTITY, 0), "row_counts": counts}), flush=True)


def with_password(url: str) -> str:
    """dlt insists on a password in its credentials: a placeholder when the URL has none (a
    server that trusts local connections ignores it)."""
    parts = urlsplit(url)
    if parts.password is not None:
        return url
    user = parts.username or "postgres"
    return urlunsplit(parts._replace(netloc=f"{user}:unused@{parts.hostname}:{parts.port or 5432}"))


def run_dlt(mode: str, api: str, url: str, dlt_python: str, pipelines_dir: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE"))}
    env["RUNTIME__LOG_LEVEL"] = "WARNING"
    if mode == "dlt-tuned":
        env.update(TUNED_ENV)
    return run_child([dlt_python, __file__, "--dlt", mode, "--api", api, "--database-url", url,
                      "--pipelines-dir", pipelines_dir, "--dataset", dataset_of(mode)], env)


def dataset_of(mode: str) -> str:
    return mode.replace("-", "_")


def copy_child(url: str, size: int) -> None:
    """The floor: the same records, formatted as the loader formats them, in one COPY."""
    import datetime as dt

    import orjson
    import psycopg

    now = dt.datetime.now(dt.UTC)
    dumps = orjson.dumps
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY {COPY_TABLE} FROM STDIN") as copy:
            for i in range(1, size + 1):
                r = make_record(i)
                copy.write_row((
                    r["id"], r["updated_at"], r["status"], r["amount"], r["currency"],
                    r["quantity"], r["paid"], r["email"], dumps(r["customer"]).decode(),
                    dumps(r["tags"]).decode(), r["note"], dumps(r).decode(), now, "copy"))
    print(json.dumps({"rows": size}), flush=True)


COPY_TABLE = "bench_copy"
COPY_COLUMNS = ("id bigint, updated_at text, status text, amount double precision, "
                "currency text, quantity bigint, paid boolean, email text, customer jsonb, "
                "tags jsonb, note text, _record jsonb, _synced_at timestamptz, _run_id text")


def run_child(command: list[str], env: dict) -> dict:
    """Spawn, wait, and measure from outside: wall, CPU (with its children), peak RSS."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        output.seek(0)
        text = output.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[1:3]} failed:\n{text[-4000:]}")
    line = {"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024, "output": text}
    for text_line in reversed(text.strip().splitlines()):
        if text_line.startswith("{\"rows\""):
            line.update(json.loads(text_line))
            break
    return line


def measure(size: int, modes: list[str], url: str, dlt_python: str) -> dict[str, dict]:
    """Each mode's full run then its no-change run, with the API serving ``size`` records."""
    server, api = start_server(size)
    results: dict[str, dict] = {}
    try:
        pages = max(1, -(-size // PAGE))
        rate = server_rate(api, pages)
        print(f"  {size:>9,} API: {pages} pages read at {rate:,.0f} pages/s "
              "(one client, bodies not parsed)")
        results["api"] = {"pages": pages, "rate": rate}
        pipelines = tempfile.mkdtemp(prefix="sync_e2e_dlt_")
        for mode in modes:
            query(url, "CHECKPOINT")  # no run pays for the previous one's dirty pages
            if mode.startswith("ours"):
                # ours-inline: the same without reading ahead (what the run did before).
                env = {"SYNCS_READ_AHEAD_ROWS": "0"} if mode == "ours-inline" else {}
                sync_id = django_child(url, "create", api=api, size=size)["sync"]
                full = run_ours(url, sync_id, size, env)
                again = run_ours(url, sync_id, 0, env)
            elif mode == "copy":
                query(url, f"DROP TABLE IF EXISTS {COPY_TABLE}")
                query(url, f"CREATE TABLE {COPY_TABLE} ({COPY_COLUMNS})")
                full = run_child([PYTHON, __file__, "--copy", "--records", str(size),
                                  "--database-url", url], child_env(url))
                check_count(url, COPY_TABLE, size, "copy")
                again = None
            else:
                query(url, f"DROP SCHEMA IF EXISTS {dataset_of(mode)} CASCADE")
                full = run_dlt(mode, api, url, dlt_python, pipelines)
                check_count(url, f"{dataset_of(mode)}.{ENTITY}", size, mode)
                full["rows"] = size  # what the table holds (dlt-tuned's normalize count is 12x it)
                again = run_dlt(mode, api, url, dlt_python, pipelines)
                check_count(url, f"{dataset_of(mode)}.{ENTITY}", size, mode)
            for label, line in (("full", full), ("no-change", again)):
                if line is None:
                    continue
                line.pop("output", None)
                results[f"{mode} {label}"] = line
                print(f"  {size:>9,} {mode:<12} {label:<9} {line['seconds']:7.2f} s  "
                      f"{line.get('rows', 0):>9,} rows  CPU {line['cpu']:6.2f} s  "
                      f"peak RSS {line['peak_rss_mb']:6.1f} MB", flush=True)
    finally:
        server.terminate()
        server.wait(30)
    return results


# --- the report -----------------------------------------------------------------------------

def report(info: dict, commit: str, postgres: str, results: dict[int, dict]) -> str:
    lines = ["| records | contender | run | wall s | rows/s (wall) | ours ÷ it | CPU s "
             "| peak RSS MB |", "|---:|---|---|---:|---:|---:|---:|---:|"]
    verdicts = []
    for size, by in results.items():
        ours = by.get("ours full")
        for key, line in by.items():
            if key == "api":
                continue
            mode, run = key.rsplit(" ", 1)
            rate = size / line["seconds"] if run == "full" else None
            ratio = ""
            baseline = by.get(f"ours {run}")
            if baseline and mode != "ours":
                ratio = f"{line['seconds'] / baseline['seconds']:.2f}"
            lines.append(f"| {size:,} | {mode} | {run} | {line['seconds']:.2f} | "
                         f"{f'{rate:,.0f}' if rate else ''} | {ratio} | {line['cpu']:.1f} | "
                         f"{line['peak_rss_mb']:.1f} |")
        for mode, goal in GOALS.items():
            if ours and f"{mode} full" in by:
                ratio = by[f"{mode} full"]["seconds"] / ours["seconds"]
                verdicts.append(f"- {size:,} records, ours ÷ {mode} (full run, wall): "
                                f"{ratio:.2f} — goal ≥ {goal}: "
                                f"{'met' if ratio >= goal else 'NOT met'}")
        api = by.get("api")
        if api:
            verdicts.append(f"- {size:,} records: the API served its {api['pages']:,} pages "
                            f"at {api['rate']:,.0f} pages/s to one client (bodies not parsed)")
    return "\n".join([
        f"Run: {info['date']}, commit {commit}; {info['cpu']}, {info['memory']} RAM; "
        f"{info['os']}; Python {info['python']}, Django {info['django']}, psycopg "
        f"{info['psycopg']}; {postgres} on the same machine. Load average at the end "
        f"(1, 5, 15 min): {info['load']} — the machine is shared with other sessions' work "
        "(compare the rows of one run, not runs of different days).",
        "", *lines, "", *verdicts])


def record(path: Path, text: str) -> None:
    replace_results(path, "sync_e2e.py", "End to end against dlt (`benchmarks/sync_e2e.py`)", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--small-records", type=int, default=200_000,
                        help="run everything for this many records first, to compare peak "
                             "RSS (0: skip)")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 DEFAULT_URL))
    parser.add_argument("--dlt-python", default=DEFAULT_DLT_PYTHON,
                        help="the interpreter of a virtualenv with dlt[postgres] installed")
    parser.add_argument("--record", type=Path, help="write the results (markdown) to this file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port-file", help=argparse.SUPPRESS)
    parser.add_argument("--dlt", help=argparse.SUPPRESS)
    parser.add_argument("--copy", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--django", help=argparse.SUPPRESS)
    parser.add_argument("--sync", help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--pipelines-dir", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.records, args.port_file)
        return
    if args.dlt:
        dlt_child(args.dlt, args.api, args.database_url, args.pipelines_dir, args.dataset)
        return
    if args.copy:
        copy_child(args.database_url, args.records)
        return
    if args.django:
        django_step(args.django, args.api, args.records, args.sync)
        return

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if set(modes) - set(MODES):
        raise SystemExit(f"--modes: unknown {sorted(set(modes) - set(MODES))}")
    if any(m.startswith("dlt") for m in modes) and not Path(args.dlt_python).exists():
        raise SystemExit(f"--dlt-python {args.dlt_python} does not exist: see the docstring "
                         "for the virtualenv's setup line")
    url = args.database_url
    started = time.monotonic()
    recreate_database(url)
    from benchmarks._machine import machine

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    postgres = "PostgreSQL " + query(url, "SHOW server_version")[0][0]
    sizes = ([args.small_records] if 0 < args.small_records < args.records else []) + \
        [args.records]
    results = {size: measure(size, modes, url, args.dlt_python) for size in sizes}
    text = report(machine(), commit, postgres, results)
    print()
    print(text)
    print(f"\nWhole run: {time.monotonic() - started:.0f} s")
    if args.record:
        record(args.record, text)


if __name__ == "__main__":
    main()
