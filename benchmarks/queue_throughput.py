"""Queue throughput and claim latency: our native worker against Procrastinate.

No-op jobs, N worker processes, one PostgreSQL database (dropped and created by this script).

    .venv/bin/python benchmarks/queue_throughput.py [--jobs 5000] [--workers 4]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_queue]

Throughput: N pending jobs are inserted up front (``bulk_create`` / ``batch_defer``: not
timed), then the worker processes are spawned in burst / one-shot mode.

* jobs/s (wall): from the spawn to the last job's finish, so process start-up is included;
* jobs/s (steady): from the first job's start to the last job's finish (database times);
* CPU ms/job: CPU time of the worker processes and of the database's PostgreSQL processes
  (sampled from ``/proc``) within that steady window, per job. Unlike jobs/s, CPU per job
  hardly depends on whatever else the machine is running.

Latency: with the workers idle (LISTEN/NOTIFY on), jobs are enqueued one at a time, 10 ms
apart, and ``started - enqueued`` is reported as p50/p99.

``--other-root DIR`` adds runs (and a latency measurement) of another checkout's worker
(``manage.py run_worker`` of DIR, e.g. an earlier commit in a ``git worktree``) against the
same database, interleaved with ours, and the ratios of ours to it: what a change of the worker
costs or gains. The database is migrated by this checkout, so compare checkouts with the same
migrations of ``jobs``. Method, figures and history: ``benchmarks/queue_throughput.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PYTHON = sys.executable
FORBIDDEN_DB_NAMES = {"celery_helper", "smoke"}
RUN_TIMEOUT = 120.0  # seconds, per worker run
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH_DIR))

from benchmarks._machine import cpu_model, package_version  # noqa: E402 - after the path is set

# --- helpers --------------------------------------------------------------------------------

def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil
    return ordered[int(rank) - 1]


def db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def admin_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def check_db_name(name: str) -> None:
    if not name or name.startswith("test_") or name in FORBIDDEN_DB_NAMES or "bench" not in name:
        raise SystemExit(f"Refusing to drop/create database {name!r}: use a name containing "
                         "'bench' (not test_*, celery_helper or smoke).")


def recreate_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = db_name(url)
    check_db_name(name)
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def child_env(url: str, root: Path = ROOT, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DATABASE_URL": url, "BENCH_DATABASE_URL": url,
                "DJANGO_SETTINGS_MODULE": "syncservice.settings", "JOBS_BACKEND": "native"})
    env["PYTHONPATH"] = os.pathsep.join(
        [str(BENCH_DIR), str(root)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.update(extra)
    return env


def sql_one(url: str, query: str, params=()):
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchone()


def sql_exec(url: str, *queries: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for query in queries:
            conn.execute(query)


class CpuSampler:
    """Samples, every 50 ms, the CPU time of the worker processes and of the PostgreSQL
    processes of the benchmark database (backends, autovacuum), from /proc, so that the CPU
    spent inside a time window (first job start .. last job finish) can be interpolated:
    start-up and shutdown are left out, and other processes on the machine do not count."""

    def __init__(self, dbname: str) -> None:
        self.pattern = re.compile(rb"^postgres: .*\b" + re.escape(dbname.encode()) + rb"\b")
        self.workers: set[int] = set()
        self.series: dict[int, list[tuple[float, float]]] = {}
        self.kind: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _cpu(pid: int) -> float | None:
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            return None

    def _sample(self) -> None:
        now = time.time()
        pids = {pid: "worker" for pid in self.workers}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and int(entry.name) not in pids:
                try:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                        if self.pattern.match(handle.read()):
                            pids[int(entry.name)] = "db"
                except OSError:
                    continue
        for pid, kind in pids.items():
            cpu = self._cpu(pid)
            if cpu is not None:
                self.series.setdefault(pid, []).append((now, cpu))
                self.kind[pid] = kind

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()

    def __enter__(self) -> CpuSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @staticmethod
    def _at(series: list[tuple[float, float]], when: float) -> float:
        if when <= series[0][0]:
            return series[0][1]
        for (t0, c0), (t1, c1) in zip(series, series[1:], strict=False):
            if t0 <= when <= t1:
                return c0 + (c1 - c0) * (when - t0) / (t1 - t0) if t1 > t0 else c1
        return series[-1][1]

    def window(self, start: float, end: float) -> dict[str, float]:
        """CPU seconds per kind ("worker", "db") between two epoch times."""
        totals = {"worker": 0.0, "db": 0.0}
        for pid, series in self.series.items():
            totals[self.kind[pid]] += self._at(series, end) - self._at(series, start)
        return totals


@dataclass
class Procs:
    """Worker subprocesses with their output in files (a full pipe would block them)."""
    cmds: list[list[str]]
    env: dict[str, str]
    logdir: Path
    label: str
    cwd: Path = ROOT
    procs: list[subprocess.Popen] = field(default_factory=list)

    def start(self) -> float:
        started = time.time()
        for index, cmd in enumerate(self.cmds):
            with open(self.logdir / f"{self.label}-{index}.log", "w") as log:
                self.procs.append(subprocess.Popen(cmd, cwd=self.cwd, env=self.env,
                                                   stdout=log, stderr=subprocess.STDOUT))
        return started

    def wait(self, timeout: float = RUN_TIMEOUT) -> float:
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill()
                raise SystemExit(f"{self.label}: workers did not finish within {timeout}s "
                                 f"(logs in {self.logdir})") from None
        failed = [p.returncode for p in self.procs if p.returncode not in (0, -signal.SIGTERM)]
        if failed:
            raise SystemExit(f"{self.label}: worker exit codes {failed} (logs in {self.logdir})")
        return time.time()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        self.wait(timeout=30)

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"Timed out waiting for {what}")
        time.sleep(interval)


@dataclass
class Throughput:
    label: str
    jobs: int
    spawn: float        # epoch seconds
    first_start: float
    last_finish: float
    worker_cpu: float   # seconds, between the first start and the last finish
    db_cpu: float       # seconds, the same window

    @property
    def wall_rate(self) -> float:
        return self.jobs / (self.last_finish - self.spawn)

    @property
    def steady_rate(self) -> float:
        return self.jobs / (self.last_finish - self.first_start)

    @property
    def worker_ms(self) -> float:
        return 1000 * self.worker_cpu / self.jobs

    @property
    def db_ms(self) -> float:
        return 1000 * self.db_cpu / self.jobs


def timed_run(url: str, procs: Procs) -> tuple[float, CpuSampler]:
    """Spawn, wait for the burst workers to exit; (spawn time, CPU samples)."""
    with CpuSampler(db_name(url)) as sampler:
        spawn = procs.start()
        sampler.workers.update(proc.pid for proc in procs.procs)
        procs.wait()
    return spawn, sampler


# --- setup ----------------------------------------------------------------------------------

def setup(url: str, with_procrastinate: bool) -> None:
    recreate_database(url)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "--skip-checks", "-v", "0"],
                   cwd=ROOT, env=child_env(url), check=True)
    if with_procrastinate:
        from _procrastinate_app import app

        with app.open():
            app.schema_manager.apply_schema()


def django_setup(url: str) -> None:
    import logging

    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "syncservice.settings"
    os.environ["JOBS_BACKEND"] = "native"
    import django

    django.setup()
    logging.getLogger("procrastinate").setLevel(logging.WARNING)


# --- ours -----------------------------------------------------------------------------------

def ours_procs(root: Path, workers: int, concurrency: int, burst: bool, url: str,
               logdir: Path, label: str) -> Procs:
    """``workers`` processes of ``manage.py run_worker`` of the checkout at ``root``."""
    cmd = [PYTHON, "manage.py", "run_worker", "--concurrency", str(concurrency)]
    cmd += ["--burst"] if burst else []
    return Procs([cmd] * workers, child_env(url, root), logdir, label.replace("/", "_"),
                 cwd=root)


def ours_reset(url: str) -> None:
    sql_exec(url, "TRUNCATE jobs_job CASCADE")


def ours_fill(url: str, n: int) -> None:
    from django.utils import timezone

    from jobs.models import Job

    due = timezone.now() - dt.timedelta(seconds=1)
    Job.objects.bulk_create(
        [Job(job_class="jobs.noop", payload={}, max_retries=3, scheduled_at=due)
         for _ in range(n)], batch_size=1000)
    sql_exec(url, "VACUUM ANALYZE jobs_job")


def run_ours(url: str, n: int, workers: int, concurrency: int, name: str, root: Path,
             logdir: Path) -> Throughput:
    ours_reset(url)
    ours_fill(url, n)
    procs = ours_procs(root, workers, concurrency, True, url, logdir, f"{name}-c{concurrency}")
    spawn, sampler = timed_run(url, procs)
    done, first, last = sql_one(
        url, "SELECT count(*) FILTER (WHERE status = 'succeeded'), "
             "extract(epoch FROM min(started_at)), extract(epoch FROM max(finished_at)) "
             "FROM jobs_job WHERE job_class = 'jobs.noop'")  # not the periodic jobs
    if done != n:
        raise SystemExit(f"{name}: {done} of {n} jobs succeeded (logs in {logdir})")
    cpu = sampler.window(float(first), float(last))
    return Throughput(f"{name} (c={concurrency})", n, spawn, float(first),
                      float(last), cpu["worker"], cpu["db"])


def listening_backends(url: str, channel: str) -> int:
    return sql_one(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND query = %s", (f"LISTEN {channel}",))[0]


def latency_ours(url: str, n: int, interval: float, workers: int, name: str, root: Path,
                 logdir: Path) -> list[float]:
    from jobs import services
    from jobs.models import Job
    from jobs.queries import NOTIFY_CHANNEL

    ours_reset(url)
    noops = Job.objects.filter(job_class="jobs.noop")  # not the periodic jobs
    procs = ours_procs(root, workers, 1, False, url, logdir, f"latency-{name}")
    procs.start()
    try:
        wait_until(lambda: listening_backends(url, NOTIFY_CHANNEL) >= workers, 60,
                   "our workers to LISTEN")
        time.sleep(1.0)  # let every runner thread reach its first wait
        for _ in range(n):
            services.enqueue("jobs.noop")
            time.sleep(interval)
        wait_until(lambda: noops.filter(status="succeeded").count() >= n, 60,
                   "latency jobs to finish", interval=0.2)
    finally:
        procs.stop()
    return [(started - created).total_seconds() * 1000 for created, started in
            noops.values_list("created_at", "started_at")]


# --- Procrastinate --------------------------------------------------------------------------

def procrastinate_worker_cmd(concurrency: int, burst: bool) -> list[str]:
    return [PYTHON, "-m", "procrastinate", "--app=_procrastinate_app.app", "worker",
            "--one-shot" if burst else "--wait", "--concurrency", str(concurrency)]


def procrastinate_reset(url: str) -> None:
    sql_exec(url, "TRUNCATE procrastinate_events, procrastinate_periodic_defers, "
                  "procrastinate_jobs, procrastinate_workers RESTART IDENTITY CASCADE")


def procrastinate_task(kind: str):
    import _procrastinate_app

    return _procrastinate_app.noop if kind == "async" else _procrastinate_app.noop_sync


def run_procrastinate(url: str, n: int, workers: int, concurrency: int, kind: str,
                      logdir: Path) -> Throughput:
    from _procrastinate_app import app

    procrastinate_reset(url)
    task = procrastinate_task(kind)
    with app.open():
        for start in range(0, n, 1000):
            task.batch_defer(*([{}] * min(1000, n - start)))
    sql_exec(url, "VACUUM ANALYZE procrastinate_jobs", "VACUUM ANALYZE procrastinate_events")
    procs = Procs([procrastinate_worker_cmd(concurrency, burst=True)] * workers,
                  child_env(url), logdir, f"procrastinate-{kind}-c{concurrency}")
    spawn, sampler = timed_run(url, procs)
    done, first, last = sql_one(
        url, "SELECT count(*) FILTER (WHERE type = 'succeeded'), "
             "extract(epoch FROM min(at) FILTER (WHERE type = 'started')), "
             "extract(epoch FROM max(at) FILTER (WHERE type = 'succeeded')) "
             "FROM procrastinate_events")
    if done != n:
        raise SystemExit(f"procrastinate: {done} of {n} jobs succeeded (logs in {logdir})")
    cpu = sampler.window(float(first), float(last))
    return Throughput(f"procrastinate ({kind} task, c={concurrency})", n, spawn, float(first),
                      float(last), cpu["worker"], cpu["db"])


def latency_procrastinate(url: str, n: int, interval: float, workers: int, kind: str,
                          logdir: Path) -> list[float]:
    import psycopg
    from _procrastinate_app import app

    procrastinate_reset(url)
    task = procrastinate_task(kind)
    procs = Procs([procrastinate_worker_cmd(1, burst=False)] * workers, child_env(url), logdir,
                  "latency-procrastinate")
    procs.start()
    try:
        wait_until(lambda: sql_one(url, "SELECT count(*) FROM procrastinate_workers")[0]
                   >= workers, 60, "Procrastinate workers to register")
        time.sleep(1.0)  # registration comes just before the LISTEN
        with app.open():
            for _ in range(n):
                task.defer()
                time.sleep(interval)
        wait_until(lambda: sql_one(url, "SELECT count(*) FROM procrastinate_events "
                                        "WHERE type = 'succeeded'")[0] >= n, 60,
                   "Procrastinate latency jobs to finish", interval=0.2)
    finally:
        procs.stop()
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM s.at - d.at) * 1000 FROM procrastinate_events d "
            "JOIN procrastinate_events s ON s.job_id = d.job_id AND s.type = 'started' "
            "WHERE d.type = 'deferred'").fetchall()
    return [float(row[0]) for row in rows]


# --- report ---------------------------------------------------------------------------------

def machine(url: str) -> dict[str, str]:
    from importlib.metadata import version

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "postgresql": sql_one(url, "SHOW server_version")[0],
        "django": version("django"),
        "psycopg": version("psycopg"),
        "procrastinate": package_version("procrastinate"),
    }


def wait_for_quiet(threshold: float, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while os.getloadavg()[0] >= threshold and time.monotonic() < deadline:
        time.sleep(5)


def loadavg() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


@dataclass
class Summary:
    label: str
    wall: float
    steady: float
    worker_ms: float
    db_ms: float
    walls: list[float]

    @classmethod
    def of(cls, runs: list[Throughput]) -> Summary:
        return cls(runs[0].label, statistics.median(r.wall_rate for r in runs),
                   statistics.median(r.steady_rate for r in runs),
                   statistics.median(r.worker_ms for r in runs),
                   statistics.median(r.db_ms for r in runs), [r.wall_rate for r in runs])

    @property
    def cpu_ms(self) -> float:
        return self.worker_ms + self.db_ms


def print_run(round_: int, run: Throughput) -> None:
    print(f"  round {round_}: {run.label:<58} wall {run.wall_rate:6.0f} jobs/s  steady "
          f"{run.steady_rate:6.0f} jobs/s  CPU/job worker {run.worker_ms:.2f} ms + db "
          f"{run.db_ms:.2f} ms", flush=True)


def print_ratio(ours_key: str, theirs_key: str, summaries: dict[str, Summary],
                results: dict[str, list[Throughput]], goal: float | None) -> None:
    """The ratios of ``ours_key``'s medians to ``theirs_key``'s (higher is better for ours:
    jobs/s ours / theirs, CPU per job theirs / ours), then paired by round: each run of ours
    against the run of theirs in the same round (the same load, more or less)."""
    ours, theirs = summaries[ours_key], summaries[theirs_key]
    wall, steady = ours.wall / theirs.wall, ours.steady / theirs.steady
    cpu = theirs.cpu_ms / ours.cpu_ms
    verdict = "" if goal is None else \
        f"  -> goal >= {goal}x {'met' if min(wall, steady) >= goal else 'NOT met'}"
    print(f"ratio {ours.label} / {theirs.label}: jobs/s wall {wall:.2f}x, steady "
          f"{steady:.2f}x, CPU/job {cpu:.2f}x{verdict}")
    pairs = list(zip(results[ours_key], results[theirs_key], strict=True))
    walls = [o.wall_rate / t.wall_rate for o, t in pairs]
    steadies = [o.steady_rate / t.steady_rate for o, t in pairs]
    cpus = [(t.worker_ms + t.db_ms) / (o.worker_ms + o.db_ms) for o, t in pairs]
    print(f"  paired by round: wall {', '.join(f'{r:.2f}' for r in walls)} (median "
          f"{statistics.median(walls):.2f}x); steady "
          f"{', '.join(f'{r:.2f}' for r in steadies)} (median "
          f"{statistics.median(steadies):.2f}x); CPU/job median "
          f"{statistics.median(cpus):.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000, help="jobs per throughput run")
    parser.add_argument("--workers", type=int, default=4, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=1,
                        help="threads per process of ours (default 1)")
    parser.add_argument("--procrastinate-concurrency", type=int, default=None,
                        help="async slots per Procrastinate worker (default: --concurrency)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="throughput runs per system, interleaved; medians are reported")
    parser.add_argument("--database-url",
                        default="postgres://postgres@127.0.0.1:5432/bench_queue",
                        help="dropped and created; its name must contain 'bench'")
    parser.add_argument("--procrastinate-task", choices=["async", "sync"], default="async",
                        help="Procrastinate no-op as an async (default) or a sync task")
    parser.add_argument("--other-root", type=Path, default=None,
                        help="another checkout (e.g. a git worktree of an earlier commit) whose"
                             " worker is run too, for the ratios of ours to it")
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--latency-interval-ms", type=float, default=10.0)
    parser.add_argument("--no-procrastinate", action="store_true")
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--keep-logs", action="store_true", help="keep the worker logs")
    parser.add_argument("--quiet-load", type=float, default=None,
                        help="before each round, wait (up to 3 minutes) for the 1-minute load"
                             " average to drop below this (a shared machine)")
    args = parser.parse_args(argv)

    url = args.database_url
    check_db_name(db_name(url))
    their_concurrency = args.procrastinate_concurrency or args.concurrency
    with_procrastinate = not args.no_procrastinate
    if with_procrastinate:
        try:
            import procrastinate  # noqa: F401
        except ImportError:
            raise SystemExit("Procrastinate is not installed: .venv/bin/pip install -e "
                             "'.[bench]' (or pass --no-procrastinate)") from None

    logdir = Path(tempfile.mkdtemp(prefix="bench_queue_"))
    began = time.monotonic()
    load_before = loadavg()
    print(f"Load average before: {load_before}", flush=True)
    print(f"Setting up {db_name(url)} (drop, create, migrate"
          f"{', procrastinate schema' if with_procrastinate else ''}) ...", flush=True)
    os.environ["BENCH_DATABASE_URL"] = url
    setup(url, with_procrastinate)
    django_setup(url)

    workers_run = {"ours": ROOT}
    if args.other_root is not None:
        if not (args.other_root / "manage.py").is_file():
            raise SystemExit(f"--other-root {args.other_root}: no manage.py there")
        workers_run[f"other ({args.other_root})"] = args.other_root.resolve()
    results: dict[str, list[Throughput]] = {}
    for round_ in range(1, args.repeat + 1):
        if args.quiet_load is not None:
            wait_for_quiet(args.quiet_load)
        for name, root in workers_run.items():
            run = run_ours(url, args.jobs, args.workers, args.concurrency, name, root, logdir)
            results.setdefault(name, []).append(run)
            print_run(round_, run)
        if with_procrastinate:
            run = run_procrastinate(url, args.jobs, args.workers, their_concurrency,
                                    args.procrastinate_task, logdir)
            results.setdefault("procrastinate", []).append(run)
            print_run(round_, run)

    latencies: dict[str, list[float]] = {}
    if not args.no_latency:
        interval = args.latency_interval_ms / 1000
        print(f"Latency: {args.latency_jobs} jobs, {args.latency_interval_ms:g} ms apart, "
              f"{args.workers} idle workers ...", flush=True)
        for name, root in workers_run.items():
            latencies[name] = latency_ours(url, args.latency_jobs, interval, args.workers, name,
                                           root, logdir)
        if with_procrastinate:
            latencies["procrastinate"] = latency_procrastinate(
                url, args.latency_jobs, interval, args.workers, args.procrastinate_task,
                logdir)

    summaries = {key: Summary.of(runs) for key, runs in results.items()}
    info = machine(url)
    print()
    print("=" * 110)
    print(f"Queue benchmark: {args.jobs} no-op jobs, {args.workers} worker processes; ours "
          f"--concurrency {args.concurrency}, Procrastinate --concurrency {their_concurrency}; "
          f"median of {args.repeat}")
    print("Machine: " + ", ".join(f"{key} {value}" for key, value in info.items()))
    print(f"Load average before {load_before}, after {loadavg()} (other processes on the "
          "machine lower jobs/s, not CPU/job)")
    print("-" * 110)
    print(f"{'':<58} {'jobs/s wall':>11} {'steady':>7}   CPU ms/job: worker + db = total")
    for summary in summaries.values():
        runs = ", ".join(f"{w:.0f}" for w in summary.walls)
        print(f"{summary.label:<58} {summary.wall:11.0f} {summary.steady:7.0f}   "
              f"{summary.worker_ms:5.2f} + {summary.db_ms:4.2f} = {summary.cpu_ms:5.2f}"
              f"   (wall runs: {runs})")
    if with_procrastinate:
        print("-" * 110)
        for key in workers_run:
            print_ratio(key, "procrastinate", summaries, results, goal=1.5)
    if len(workers_run) > 1:
        print("-" * 110)
        for key in list(workers_run)[1:]:
            print_ratio("ours", key, summaries, results, goal=None)
    if latencies:
        print("-" * 110)
    for label, values in latencies.items():
        print(f"claim latency {label:<44} p50 {percentile(values, 50):6.1f} ms   "
              f"p99 {percentile(values, 99):6.1f} ms   max {max(values):6.1f} ms   "
              f"(n={len(values)})")
    print(f"Total time {time.monotonic() - began:.0f} s; worker logs "
          f"{logdir if args.keep_logs else 'deleted'}")
    if not args.keep_logs:
        shutil.rmtree(logdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
