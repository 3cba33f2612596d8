"""Delivery guarantees: a job's outcome is committed before its runner starts another job; a
job claimed ahead but never started goes back to pending without a retry charged; the reaper
and the periodic bookkeeping skip a bad row instead of stopping; and, with real worker
processes killed with SIGKILL, no job is lost and only a job that was executing in a killed
worker executes again."""

import random
import re
import signal
import threading
import time
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import claiming, reaping, services
from jobs.models import Job
from jobs.periodic import _periodic, ensure_periodic_jobs, periodic_job
from jobs.registry import job_handler
from jobs.signals import job_reaped, job_started
from jobs.worker import Worker
from tests.conftest import is_postgres, wait_for
from tests.testapp.models import SideEffect

QUEUE = "delivery"
STALE = timedelta(minutes=10)


def stalled(*jobs):
    """What a dead worker leaves: its rows stop heartbeating."""
    Job.objects.filter(pk__in=[job.pk for job in jobs]).update(
        heartbeat_at=timezone.now() - STALE)


@contextmanager
def unreadable(job):
    """Bad stored data, within the block: a value the database accepts and Python cannot read
    (PostgreSQL: an infinite scheduled_at; SQLite: a project_id that is not a UUID)."""
    column, value = ("scheduled_at", "infinity") if is_postgres() else ("project_id", "zz")
    pk = job.pk if is_postgres() else job.pk.hex
    sql = f"UPDATE {Job._meta.db_table} SET {column} = %s WHERE id = %s"
    before = Job.objects.filter(pk=job.pk).values_list(column, flat=True).get()
    with connection.cursor() as cursor:
        cursor.execute(sql, [value, pk])
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the driver raises
        Job.objects.get(pk=job.pk)
    try:
        yield
    finally:  # the test database's constraints are checked at the end of the test
        before = before if is_postgres() or before is None else before.hex
        with connection.cursor() as cursor:
            cursor.execute(sql, [before, pk])


def row(job) -> Job:
    return Job.objects.get(pk=job.pk)


# --- claim and start ---------------------------------------------------------------------------

def test_claim_starts_the_first_job_and_claims_the_others_ahead(project):
    jobs = [services.enqueue("jobs.noop", project=project, priority=3 - n) for n in range(3)]
    claimed = claiming.claim("w1", limit=3)
    assert [job.pk for job in claimed] == [job.pk for job in jobs]
    rows = [row(job) for job in jobs]
    assert all((r.status, r.worker_id) == ("running", "w1") for r in rows)
    assert rows[0].started_at is not None and claimed[0].started_at is not None
    assert [r.started_at for r in rows[1:]] == [None, None]
    assert all(r.heartbeat_at is not None for r in rows)


def test_finish_and_start_writes_the_success_and_starts_the_next_in_one_statement(project):
    first, second = (services.enqueue("jobs.noop", project=project, priority=2 - n)
                     for n in range(2))
    running, ahead = claiming.claim("w1", limit=2)
    finished_at = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        started, recorded = claiming.finish_and_start(
            "w1", [(running, {"n": 1}, finished_at)], ahead)
    if is_postgres():
        assert len(queries.captured_queries) == 1
    assert started and recorded == {first.pk}
    done = row(first)
    assert (done.status, done.result, done.finished_at) == ("succeeded", {"n": 1}, finished_at)
    assert row(second).started_at == ahead.started_at is not None
    # Already started (or not ours): not started again.
    assert claiming.finish_and_start("w1", [], ahead) == (False, set())
    assert claiming.finish_and_start("w2", [], ahead) == (False, set())


def test_finish_and_claim_is_one_statement_on_postgresql(project):
    services.enqueue("jobs.noop", project=project)
    services.enqueue("jobs.noop", project=project)
    [running] = claiming.claim("w1")
    with CaptureQueriesContext(connection) as queries:
        claimed, recorded = claiming.finish_and_claim(
            "w1", [(running, None, timezone.now())], limit=4)
    if is_postgres():
        assert len(queries.captured_queries) == 1
    assert recorded == {running.pk} and len(claimed) == 1
    assert claimed[0].started_at is not None  # the first claimed is started


def test_start_reports_a_cancel_requested_while_the_job_waited(project):
    for _ in range(2):
        services.enqueue("jobs.noop", project=project)
    running, ahead = claiming.claim("w1", limit=2)
    services.cancel(ahead)
    assert row(ahead).status == "running"  # claimed: the cancel is cooperative
    assert claiming.start(ahead) is True
    assert ahead.cancel_requested_at is not None  # so execute cancels it before the handler


def test_execute_starts_a_job_claimed_ahead_and_skips_one_not_ours(project):
    from jobs.execution import execute

    for _ in range(3):
        services.enqueue("jobs.noop", project=project)
    running, ahead, taken = claiming.claim("w1", limit=3)
    assert execute(ahead, "w1") == "succeeded"
    assert row(ahead).started_at is not None
    stalled(taken)
    reaping.reap_stalled(timeout_seconds=60)  # given back: it never started
    assert execute(taken, "w1") == "lost"
    assert (row(taken).status, row(taken).retry_count) == ("pending", 0)


# --- the reaper ---------------------------------------------------------------------------------

@pytest.mark.parametrize("max_retries", [2, 0])
def test_reaper_charges_the_executing_job_and_gives_back_the_claimed_ahead(project,
                                                                          max_retries):
    """A dead worker's jobs: the one it was executing is charged (requeued while retries
    remain, else failed); those it had only claimed ahead go back untouched."""
    jobs = [services.enqueue("jobs.noop", project=project, priority=3 - n,
                             max_retries=max_retries) for n in range(3)]
    executing, *ahead = claiming.claim("dead", limit=3)
    stalled(*jobs)
    reaped = {job.pk: job for job in reaping.reap_stalled(timeout_seconds=60)}
    assert set(reaped) == {job.pk for job in jobs}
    charged = row(executing)
    if max_retries:
        assert (charged.status, charged.retry_count) == ("pending", 1)
    else:
        assert (charged.status, charged.retry_count) == ("failed", 0)
    assert charged.error == "heartbeat_timeout"
    assert charged.error_details["worker_id"] == "dead"
    for job in ahead:
        given_back = row(job)
        assert (given_back.status, given_back.retry_count, given_back.worker_id) == (
            "pending", 0, "")
        assert given_back.started_at is None and given_back.heartbeat_at is None
        assert given_back.error == "" and given_back.error_details is None
    # They are claimed again like any pending job.
    assert {job.pk for job in claiming.claim("alive", limit=5)} >= {job.pk for job in ahead}


def test_reaper_sends_job_reaped_only_for_executions(project):
    for _ in range(2):
        services.enqueue("jobs.noop", project=project)
    executing, ahead = claiming.claim("dead", limit=2)
    stalled(executing, ahead)
    seen = []
    job_reaped.connect(lambda sender, job, **kwargs: seen.append(job.pk), weak=False,
                       dispatch_uid="test-reaped-executions")
    try:
        reaping.reap_stalled(timeout_seconds=60)
    finally:
        job_reaped.disconnect(dispatch_uid="test-reaped-executions")
    assert seen == [executing.pk]


def test_one_bad_row_does_not_stop_the_reaper(project, caplog):
    """A row the reaper cannot handle (a timestamp Python cannot read; a job_reaped receiver
    failing on it) is logged and skipped; every other stalled job is reaped."""
    jobs = [services.enqueue("jobs.noop", project=project, priority=9 - n) for n in range(6)]
    claimed = claiming.claim("dead", limit=6)
    bad_data, bad_receiver = claimed[1], claimed[0]
    stalled(*jobs)

    def explode(sender, job, **kwargs):
        if job.pk == bad_receiver.pk:
            raise RuntimeError("receiver broke")

    job_reaped.connect(explode, weak=False, dispatch_uid="test-reaper-explode")
    try:
        with unreadable(bad_data):
            reaped = reaping.reap_stalled(timeout_seconds=60)
            statuses = dict(Job.objects.values_list("pk", "status"))
    finally:
        job_reaped.disconnect(dispatch_uid="test-reaper-explode")
    others = {job.pk for job in claimed} - {bad_data.pk}
    assert {job.pk for job in reaped} == others
    assert all(statuses[pk] == "pending" for pk in others)
    assert statuses[bad_data.pk] == "running"  # skipped, tried again at the next pass
    assert f"Could not reap stalled job {bad_data.pk}" in caplog.text
    assert "receiver broke" in caplog.text


def test_one_bad_periodic_entry_does_not_stop_the_others(db, caplog):
    registered = dict(_periodic)
    try:
        _periodic.clear()
        periodic_job("test.not-registered-here", every_seconds=60)  # no handler: enqueue fails
        periodic_job("jobs.sleep", every_seconds=60)
        periodic_job("jobs.noop", every_seconds=60)
        last_sleep = Job.objects.create(job_class="jobs.sleep", status="succeeded",
                                        unicity="periodic:jobs.sleep")
        if is_postgres():  # the last run of jobs.sleep has a date Python cannot read
            with unreadable(last_sleep):
                created = ensure_periodic_jobs()
        else:
            created = ensure_periodic_jobs()
    finally:
        _periodic.clear()
        _periodic.update(registered)
    broken = ["test.not-registered-here", *(["jobs.sleep"] if is_postgres() else [])]
    assert [job.job_class for job in created] == [
        name for name in ("jobs.sleep", "jobs.noop") if name not in broken]
    for name in broken:
        assert f"Could not queue the next run of periodic job {name}" in caplog.text


# --- frozen janitors: a process stopped inside its transaction does not hold the others up --------

def frozen(seconds: float, inside) -> tuple[threading.Thread, threading.Event]:
    """A thread that runs ``inside()`` in a janitor transaction, then stops for ``seconds``
    without a statement, as a frozen process would; returns it and an event set once it is
    inside."""
    inside_now = threading.Event()

    def run():
        try:
            with reaping.janitor_transaction():
                inside()
                inside_now.set()
                time.sleep(seconds)
        except Exception:  # noqa: BLE001, S110 - its session was ended under it: expected
            pass
        finally:
            inside_now.set()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, inside_now


@pytest.mark.django_db(transaction=True)
def test_a_frozen_reaper_does_not_keep_the_others_out(project, settings):
    if not is_postgres():
        pytest.skip("the reaper's lock and the session timeouts are PostgreSQL's")
    settings.JOBS_HEARTBEAT_TIMEOUT_SECONDS = 1.0  # a frozen janitor is cut off after 1 s
    services.enqueue("jobs.noop", project=project)
    [job] = claiming.claim("dead")
    stalled(job)

    def take_the_lock():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [reaping.REAPER_LOCK_KEY])

    thread, inside = frozen(3, take_the_lock)
    try:
        assert inside.wait(10)
        assert reaping.reap_as_the_only_reaper(timeout_seconds=60) is None  # it holds it
        reaped = wait_for(lambda: reaping.reap_as_the_only_reaper(timeout_seconds=60),
                          timeout=5, interval=0.1)
    finally:
        thread.join(15)
    assert [j.pk for j in reaped] == [job.pk] and row(job).status == "pending"


@pytest.mark.django_db(transaction=True)
def test_a_frozen_janitor_holding_a_periodic_job_does_not_block_the_others(settings,
                                                                             caplog):
    if not is_postgres():
        pytest.skip("lock_timeout and idle_in_transaction_session_timeout are PostgreSQL's")
    settings.JOBS_HEARTBEAT_TIMEOUT_SECONDS = 1.0  # waits for a lock at most 1 s
    registered = dict(_periodic)
    _periodic.clear()
    try:
        periodic_job("jobs.sleep", every_seconds=60)
        periodic_job("jobs.noop", every_seconds=60)
        # Another worker's janitor queued the next jobs.sleep, and froze before committing.
        thread, inside = frozen(3, lambda: services.enqueue(
            "jobs.sleep", unicity="periodic:jobs.sleep", max_retries=0))
        try:
            assert inside.wait(10)
            began = time.monotonic()
            created = ensure_periodic_jobs()
            waited = time.monotonic() - began
        finally:
            thread.join(15)
    finally:
        _periodic.clear()
        _periodic.update(registered)
    # Not held up: either the frozen transaction was ended first (then this pass queued
    # jobs.sleep itself), or the wait for it timed out (then jobs.sleep waits for the next
    # pass); jobs.noop was queued either way.
    assert waited < 2.5 and "jobs.noop" in [job.job_class for job in created]
    if "jobs.sleep" not in [job.job_class for job in created]:
        assert "Could not queue the next run of periodic job jobs.sleep" in caplog.text
    assert Job.objects.filter(unicity="periodic:jobs.sleep").count() <= 1


# --- the worker, in-process ---------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_each_outcome_is_committed_before_the_runner_starts_another_job(project):
    """At each job_started, every job the runner ran before is final in the database, as
    another connection sees it."""
    violations, seen = [], []

    def check(sender, job, worker_id, **kwargs):
        if job.job_class != "testapp.count":
            return
        earlier = list(seen)
        seen.append(job.pk)
        result = {}

        def look():  # another thread: another connection
            try:
                result["open"] = list(Job.objects.filter(pk__in=earlier).exclude(
                    status="succeeded").values_list("pk", flat=True))
            finally:
                connection.close()

        looker = threading.Thread(target=look)
        looker.start()
        looker.join()
        if result.get("open"):
            violations.append((job.pk, result["open"]))

    jobs = [services.enqueue("testapp.count", project=project, queue=QUEUE)
            for _ in range(40)]
    job_started.connect(check, weak=False, dispatch_uid="test-committed-before-next")
    try:
        worker = Worker(queues=[QUEUE], concurrency=1, burst=True, poll_seconds=0.05)
        worker.SHORT_JOB_SECONDS = 10.0  # claim ahead, however loaded the machine
        worker.run()
    finally:
        job_started.disconnect(dispatch_uid="test-committed-before-next")
    assert len(seen) == 40 and violations == []
    assert Job.objects.filter(pk__in=[j.pk for j in jobs], status="succeeded").count() == 40


@pytest.mark.django_db(transaction=True)
def test_a_stalled_runners_claimed_ahead_jobs_are_not_charged(project):
    """A runner executing a job with others claimed ahead stops heartbeating (as a dead or
    frozen worker does): the reaper charges the executing job only. When the runner comes
    back, its late success is not written over the reaped row and the jobs it had claimed
    are not started by it; everything then runs, the given-back jobs once each."""
    entered, gate = threading.Event(), threading.Event()

    @job_handler("test.delivery.gate")
    def held(ctx, payload):
        SideEffect.objects.create(job_id=ctx.job_id, worker_id=ctx.worker_id, kind="start",
                                  attempt=ctx.job.retry_count)
        if ctx.job.retry_count == 0:
            entered.set()
            gate.wait(30)
        return {"attempt": ctx.job.retry_count}

    # The claim size doubles after each short job: 3 short jobs are claimed 1 then 2, and the
    # next claim (8) takes the gate and the 6 behind it.
    warm = [services.enqueue("testapp.count", project=project, queue=QUEUE, priority=10)
            for _ in range(3)]
    long = services.enqueue("test.delivery.gate", project=project, queue=QUEUE, priority=5)
    behind = [services.enqueue("testapp.count", project=project, queue=QUEUE, priority=1)
              for _ in range(6)]
    worker = Worker(queues=[QUEUE], concurrency=1, burst=True, poll_seconds=0.05,
                    heartbeat_seconds=3600)  # one beat at start, then none: "frozen"
    worker.SHORT_JOB_SECONDS = 10.0
    worker.PREFETCH_HOLD_SECONDS = 3600.0
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        assert entered.wait(20)
        ahead = Job.objects.filter(pk__in=[job.pk for job in behind])
        # SQLite claims one at a time: there, the 6 are still pending.
        assert ahead.filter(status="running", worker_id=worker.worker_id,
                            started_at__isnull=True).count() == (6 if is_postgres() else 0)
        assert row(long).started_at is not None
        stalled(long, *behind)
        reaping.reap_stalled(timeout_seconds=60)
        charged = row(long)
        assert (charged.status, charged.retry_count, charged.error) == (
            "pending", 1, "heartbeat_timeout")
        assert [(r.status, r.retry_count, r.started_at) for r in ahead] == [
            ("pending", 0, None)] * 6
    finally:
        gate.set()
        runner.join(30)
    assert not runner.is_alive()
    everything = [*warm, long, *behind]
    assert Job.objects.filter(pk__in=[j.pk for j in everything],
                              status="succeeded").count() == 10
    assert row(long).retry_count == 1 and row(long).result == {"attempt": 1}
    assert [r.retry_count for r in Job.objects.filter(pk__in=[j.pk for j in behind])] == [0] * 6
    starts = Counter(SideEffect.objects.filter(kind="start").values_list("job_id", flat=True))
    assert all(starts[job.pk] == 1 for job in [*warm, *behind])
    assert starts[long.pk] == 2


@pytest.mark.django_db(transaction=True)
def test_a_stopping_worker_gives_back_its_claimed_ahead_jobs_uncharged(project):
    entered, gate = threading.Event(), threading.Event()

    @job_handler("test.delivery.stop_gate")
    def held(ctx, payload):
        entered.set()
        gate.wait(30)

    for _ in range(3):  # claimed 1 then 2; the next claim takes the gate and the 6 behind
        services.enqueue("testapp.count", project=project, queue=QUEUE, priority=10)
    long = services.enqueue("test.delivery.stop_gate", project=project, queue=QUEUE,
                            priority=5)
    behind = [services.enqueue("testapp.count", project=project, queue=QUEUE, priority=1)
              for _ in range(6)]
    worker = Worker(queues=[QUEUE], concurrency=1, poll_seconds=0.05)
    worker.SHORT_JOB_SECONDS = 10.0
    worker.PREFETCH_HOLD_SECONDS = 3600.0
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        assert entered.wait(20)
        claimed = Job.objects.filter(pk__in=[job.pk for job in behind], status="running",
                                     started_at__isnull=True).count()
        assert claimed == (6 if is_postgres() else 0)  # SQLite claims one at a time
        worker.request_stop()
    finally:
        gate.set()
        runner.join(30)
    assert not runner.is_alive()
    assert row(long).status == "succeeded"
    given_back = Job.objects.filter(pk__in=[job.pk for job in behind])
    assert [(r.status, r.retry_count, r.worker_id, r.started_at) for r in given_back] == [
        ("pending", 0, "", None)] * 6
    assert not SideEffect.objects.filter(job_id__in=[job.pk for job in behind]).exists()


# --- real worker processes, killed ----------------------------------------------------------------

FAULT_QUEUE = "delivery-faults"
# Heartbeats every 0.2 s; a worker silent for 4 s is dead (the reaper runs every 2 s): a
# snapshot of a faulted worker's rows, once its sessions are done, is final until then.
FAULT_ENV = {"JOBS_HEARTBEAT_SECONDS": "0.2", "JOBS_HEARTBEAT_TIMEOUT_SECONDS": "4",
             "JOBS_POLL_SECONDS": "0.1"}
SUCCEEDED_LINE = re.compile(r"Job ([0-9a-f-]{36}) \(testapp\.count\) -> succeeded")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_killed_workers_lose_nothing_and_rerun_only_what_was_executing(spawn_worker, project):
    """4 worker processes run 300 counting jobs (each execution's start and end are committed
    rows) while, 12 times, the one holding jobs is killed with SIGKILL (10 times, then
    replaced) or frozen with SIGSTOP past the heartbeat timeout (twice, then resumed).

    Right after each fault the faulted worker's rows are read: the jobs it had started (their
    outcome not committed) and those it had only claimed ahead. Then: every job succeeds;
    each ran once plus at most once per fault that caught it started; its retry_count is
    exactly that count (claims are never charged); a job claimed ahead was never executed by
    the worker that held it; no job a killed worker had logged as succeeded was still
    unwritten; every execution without an end was cut by a fault."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    # SQLite: a frozen worker may hold the database's one write lock, and then nobody (the
    # reaper included) writes until it wakes (README, Guarantees): freezing is PostgreSQL's.
    faults = ["kill"] * 10 + (["stop"] * 2 if is_postgres() else [])
    rng.shuffle(faults)
    per_round = 300 // len(faults)
    names = (f"fault-worker-{n}" for n in range(100))
    live: dict[str, object] = {}

    def spawn() -> None:
        name = next(names)
        # PGAPPNAME: its connections are found in pg_stat_activity by the worker's name.
        live[name] = spawn_worker("--concurrency", "2", "--queue", FAULT_QUEUE,
                                  "--worker-id", name, env={**FAULT_ENV, "PGAPPNAME": name})

    def settled(victim: str, fault: str) -> None:
        """Until the statements the victim had sent are done: its rows are then as it left
        them (until the reaper takes them, 4 s after its last heartbeat)."""
        if not is_postgres():
            time.sleep(0.5)
            return

        def states():
            with connection.cursor() as cursor:
                cursor.execute("SELECT state FROM pg_stat_activity WHERE application_name = %s "
                               "AND datname = current_database()", [victim])
                return [state for (state,) in cursor.fetchall()]

        # Killed: its sessions end once their statement is done. Frozen: they go idle.
        wait_for(lambda: not states() if fault == "kill" else "active" not in states(),
                 timeout=30, interval=0.01)

    for _ in range(4):
        spawn()
    jobs: list[Job] = []
    snapshots = []  # (fault, worker, started not finished, claimed ahead)
    fault_times = []
    logs: dict[str, str] = {}
    for fault in faults:
        jobs += Job.objects.bulk_create(
            Job(job_class="testapp.count", queue=FAULT_QUEUE, project=project, max_retries=20,
                payload={"sleep": rng.uniform(0.002, 0.03)}) for _ in range(per_round))

        def holders():
            busy = set(Job.objects.filter(queue=FAULT_QUEUE, status="running")
                       .values_list("worker_id", flat=True))
            return sorted(busy & set(live))

        victim = rng.choice(wait_for(holders, timeout=60, interval=0.002))
        time.sleep(rng.uniform(0, 0.01))
        process = live.pop(victim)
        process.send_signal(signal.SIGKILL if fault == "kill" else signal.SIGSTOP)
        fault_times.append((victim, timezone.now()))
        settled(victim, fault)
        rows = list(Job.objects.filter(worker_id=victim, status="running")
                    .values_list("pk", "started_at", "retry_count"))
        snapshots.append((fault, victim, {pk for pk, started, _ in rows if started},
                          {(pk, attempt) for pk, started, attempt in rows if not started}))
        if fault == "kill":
            process.wait(10)
            logs[victim] = process.communicate(10)[0]
            spawn()
        else:  # resumed once the reaper has taken its jobs
            wait_for(lambda victim=victim: not Job.objects.filter(
                worker_id=victim, status="running").exists(), timeout=60)
            process.send_signal(signal.SIGCONT)
            live[victim] = process

    ids = [job.pk for job in jobs]
    wait_for(lambda: Job.objects.filter(pk__in=ids, status="succeeded").count() == len(ids),
             timeout=120, interval=0.2)
    for process in live.values():
        process.send_signal(signal.SIGTERM)
    for process in live.values():
        output, _ = process.communicate(60)
        # (-SIGTERM: one respawned at the end, stopped before it had started)
        assert process.returncode == 0 or (
            process.returncode == -signal.SIGTERM and "starting" not in output), output

    context = f"seed {seed}"

    def about(pk) -> tuple:
        """What the faults and the counting rows say of one job (for a failure's message)."""
        return (pk, [(n, fault, worker, "started" if pk in started else "ahead")
                     for n, (fault, worker, started, ahead) in enumerate(snapshots)
                     if pk in started or pk in {p for p, _ in ahead}],
                list(SideEffect.objects.filter(job_id=pk).order_by("id").values_list(
                    "worker_id", "kind", "attempt", "created_at")),
                Job.objects.filter(pk=pk).values("status", "retry_count", "worker_id",
                                                 "started_at", "finished_at").first(),
                fault_times, context)
    executions = defaultdict(list)  # job -> [(worker, attempt, ended)]
    ends = set(SideEffect.objects.filter(kind="end").values_list("job_id", "worker_id",
                                                                   "attempt"))
    for job_id, worker_id, attempt in SideEffect.objects.filter(kind="start").values_list(
            "job_id", "worker_id", "attempt"):
        executions[job_id].append((worker_id, attempt, (job_id, worker_id, attempt) in ends))
    cut = Counter()  # job -> faults that caught it started, its outcome not committed
    claimed_ahead = 0
    faulted = defaultdict(set)  # worker -> the jobs its faults caught started
    for fault, worker, started, ahead in snapshots:
        cut.update(started)
        faulted[worker] |= started
        claimed_ahead += len(ahead)
        if fault == "kill":  # (a frozen worker, once resumed, may claim them again)
            for pk, attempt in ahead:  # that attempt never ran on the worker that claimed it
                assert (worker, attempt) not in {(w, a) for w, a, _ in executions[pk]}, \
                    about(pk)
    rows = dict(Job.objects.filter(pk__in=ids).values_list("pk", "retry_count"))
    assert len(rows) == 300 and Job.objects.filter(pk__in=ids).exclude(
        status="succeeded").count() == 0
    for pk in ids:
        runs = executions[pk]
        assert runs and any(ended for _, _, ended in runs), about(pk)
        assert len(runs) <= 1 + cut[pk], about(pk)
        assert rows[pk] == cut[pk], about(pk)
        for worker, _, ended in runs:
            if not ended:  # cut short: by a fault that caught it started
                assert pk in faulted[worker], about(pk)
    for fault, worker, started, _ in snapshots:
        if fault == "kill":  # what it logged as succeeded was written
            logged = {uuid.UUID(match) for match in SUCCEEDED_LINE.findall(logs[worker])}
            assert not logged & started, (worker, context)
    # The faults did catch both kinds of jobs (PostgreSQL claims ahead; SQLite one at a time).
    assert sum(cut.values()) >= 1, context
    if is_postgres():
        assert claimed_ahead >= 1, context
