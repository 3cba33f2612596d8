"""``manage.py run_sync SLUG [--project NAME] [--run-mode full_refresh] [--wait] [--timeout S]``.

Triggers a sync as the API's ``POST /syncs/{id}/trigger`` does (``services.trigger``: the same
state rules, the one-active-run rule, the same run and job rows; ``triggered_by`` manual, actor
``cli``). Without ``--wait`` it prints the run id and leaves the run to the workers.

With ``--wait`` the run's job is claimed in the transaction that creates it (no worker ever
sees it pending) and executed right here, as a worker would (``jobs.worker.execute``); for the
fan-out modes, the child jobs the run enqueues are claimed and executed here too (a worker
running meanwhile may take some: they are waited for). A watcher thread prints each entity's
progress from the run's summary every half second, keeps the heartbeat of the jobs run here
fresh, and asks for the run's cancellation on ``--timeout`` or Ctrl-C (a second Ctrl-C stops
at once and closes the run as cancelled). The command exits non-zero unless the run succeeded.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connections, transaction
from django.utils import timezone
from tqdm import tqdm

from jobs import claiming, outcomes
from jobs.execution import execute
from jobs.models import ACTIVE_STATUSES, Job, JobStatus
from syncs import runner, services
from syncs.models import Sync, SyncRun
from syncservice.accounts.models import Project

POLL_SECONDS = 0.5
# Without a terminal, an entity's line is printed when its status changes, and otherwise at
# most this often while its counts move.
LOG_EVERY_SECONDS = 10.0
ACTOR = "cli"


def entity_line(entity: str, info: dict) -> str:
    line = (f"{entity}: {info.get('status') or 'pending'} {info.get('rows_read', 0):,} read / "
            f"{info.get('rows_written', 0):,} written")
    if info.get("cursor") is not None:
        line += f", cursor {info['cursor']}"
    if info.get("error"):
        line += f" ({info['error']})"
    return line


class Progress:
    """One line per entity: tqdm status lines refreshed in place on a terminal; otherwise
    plain lines, printed when something changed (see LOG_EVERY_SECONDS)."""

    def __init__(self, stderr, enabled: bool) -> None:
        self.stderr = stderr
        self.stream = getattr(stderr, "_out", stderr)
        self.enabled = enabled
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.bars: dict[str, tqdm] = {}
        self.shown: dict[str, tuple[str, str, float]] = {}  # entity: (line, status, when)
        self.lock = threading.Lock()

    def show(self, summary: dict | None) -> None:
        if not self.enabled:
            return
        with self.lock:
            for entity, info in ((summary or {}).get("entities") or {}).items():
                line, status = entity_line(entity, info), info.get("status") or "pending"
                if self.tty:
                    bar = self.bars.get(entity)
                    if bar is None:
                        size = shutil.get_terminal_size()
                        bar = self.bars[entity] = tqdm(
                            total=None, bar_format="{desc}", position=len(self.bars),
                            leave=True, file=self.stream,
                            # explicit: a pseudo-terminal may report a 0x0 size, and tqdm
                            # hides the bars below the screen's height
                            ncols=size.columns, nrows=max(size.lines, len(self.bars) + 2))
                    bar.set_description_str(line)
                    continue
                before = self.shown.get(entity)
                now = time.monotonic()
                if before is None or (before[1] != status) or (
                        before[0] != line and now - before[2] >= LOG_EVERY_SECONDS):
                    self.stderr.write(line)
                    self.shown[entity] = (line, status, now)

    def close(self, summary: dict | None) -> None:
        """The final state of every entity (always printed, also without a terminal)."""
        if not self.enabled:
            return
        if self.tty:
            self.show(summary)
        else:
            with self.lock:
                for entity, info in ((summary or {}).get("entities") or {}).items():
                    line = entity_line(entity, info)
                    if self.shown.get(entity, ("",))[0] != line:
                        self.stderr.write(line)
                        self.shown[entity] = (line, info.get("status") or "", 0.0)
        for bar in self.bars.values():
            bar.close()


class Watcher(threading.Thread):
    """Polls the run for the progress lines, heartbeats the jobs executed here (as a worker's
    keeper thread does, so a slow page is never taken for a dead worker), and requests the
    run's cancellation when the deadline passes or Ctrl-C was pressed."""

    def __init__(self, run: SyncRun, worker_id: str, contexts: dict, progress: Progress,
                 deadline: float | None, interrupted: threading.Event, stderr) -> None:
        super().__init__(name="run-sync-watcher", daemon=True)
        self.run_obj = run
        self.worker_id = worker_id
        self.contexts = contexts
        self.progress = progress
        self.deadline = deadline
        self.interrupted = interrupted
        self.stderr = stderr
        self.stopping = threading.Event()
        self.timed_out = threading.Event()
        self.cancel_sent = False

    def run(self) -> None:
        last_beat = time.monotonic()
        try:
            while not self.stopping.wait(POLL_SECONDS):
                close_old_connections()
                try:
                    self.progress.show(SyncRun.objects.only("summary").get(
                        pk=self.run_obj.pk).summary)
                except Exception:  # noqa: BLE001 - progress is best effort
                    pass
                if time.monotonic() - last_beat >= settings.JOBS_HEARTBEAT_SECONDS:
                    last_beat = time.monotonic()
                    self.beat()
                if self.deadline is not None and time.monotonic() >= self.deadline \
                        and not self.timed_out.is_set():
                    self.timed_out.set()
                    self.cancel("--timeout reached")
                if self.interrupted.is_set():
                    self.cancel("interrupted (Ctrl-C)")
        finally:
            connections.close_all()

    def beat(self) -> None:
        running = list(self.contexts)
        if not running:
            return
        try:
            Job.objects.filter(pk__in=running, status=JobStatus.RUNNING,
                               worker_id=self.worker_id).update(heartbeat_at=timezone.now())
            for pk in Job.objects.filter(pk__in=running, cancel_requested_at__isnull=False
                                         ).values_list("pk", flat=True):
                ctx = self.contexts.get(pk)
                if ctx is not None:
                    ctx.mark_cancel_requested()
        except Exception:  # noqa: BLE001 - a missed beat is retried at the next one
            pass

    def cancel(self, reason: str) -> None:
        if self.cancel_sent:
            return
        self.cancel_sent = True
        try:
            services.cancel_run(self.run_obj, reason=f"run_sync: {reason}", actor=ACTOR)
            self.stderr.write(f"{reason}: cancelling the run at its next batch…")
        except services.SyncStateError:
            pass  # finished meanwhile
        except Exception as exc:  # noqa: BLE001
            self.stderr.write(f"Could not request the cancellation: {exc}")
            self.cancel_sent = False

    def stop(self) -> None:
        self.stopping.set()
        self.join()


class Command(BaseCommand):
    help = ("Trigger a sync (as POST /syncs/{id}/trigger does). Prints the run id; with --wait "
            "the run is executed here, with per-entity progress, and the command exits "
            "non-zero unless it succeeds.")

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The sync's slug")
        parser.add_argument("--project", default=None,
                            help="Project name (needed when several projects have the slug)")
        parser.add_argument("--run-mode", default=SyncRun.RunMode.INCREMENTAL,
                            choices=SyncRun.RunMode.values,
                            help="incremental (from the checkpoints, default) or full_refresh")
        parser.add_argument("--wait", action="store_true",
                            help="Run it here and now; print the result")
        parser.add_argument("--timeout", type=float, default=None, metavar="S",
                            help="With --wait: cancel the run after S seconds (exit non-zero)")
        parser.add_argument("--no-progress", action="store_true",
                            help="With --wait: no per-entity progress lines")

    def handle(self, *args, slug, project, run_mode, wait, timeout, no_progress, **options):
        if timeout is not None and not wait:
            raise CommandError("--timeout goes with --wait.")
        if timeout is not None and timeout <= 0:
            raise CommandError("--timeout takes a positive number of seconds.")
        sync = self.find_sync(slug, project)
        worker_id = f"cli:{socket.gethostname()}:{os.getpid()}"[:200]
        try:
            # Claimed in the transaction that creates it: no worker ever sees the job pending.
            with transaction.atomic():
                run = services.trigger(sync, run_mode, triggered_by=SyncRun.TriggeredBy.MANUAL,
                                       actor=ACTOR)
                job = claiming.claim_by_id(run.job_id, worker_id) if wait else None
        except services.SyncStateError as exc:
            raise CommandError(f"Sync {sync.slug!r} of {sync.project.name} was not triggered: "
                               f"{exc}") from exc
        if not wait:
            self.stdout.write(str(run.pk))
            self.stderr.write(f"Triggered {sync.slug} ({run_mode}): run {run.pk} is pending; "
                              "a worker will run it.")
            return
        self.stdout.write(f"Run {run.pk} of {sync.slug} ({sync.project.name}, {run_mode}, "
                          f"{sync.execution_mode}): running here")
        started = time.monotonic()
        run, timed_out = self.run_here(run, job, worker_id, timeout, not no_progress)
        self.report(run, time.monotonic() - started)
        if timed_out and run.status != SyncRun.Status.SUCCEEDED:
            raise CommandError(f"Run {run.pk} did not finish within {timeout:g}s: its "
                               f"cancellation was requested (status: {run.status}).")
        if run.status != SyncRun.Status.SUCCEEDED:
            raise CommandError(f"Run {run.pk} {run.status}"
                               f"{f' ({run.result_class})' if run.result_class else ''}"
                               f"{f': {run.error}' if run.error else '.'}")

    def find_sync(self, slug: str, project: str | None) -> Sync:
        syncs = Sync.objects.filter(slug=slug).select_related("project", "connection")
        if project is not None:
            if not Project.objects.filter(name=project).exists():
                raise CommandError(f"No project named {project!r}.")
            syncs = syncs.filter(project__name=project)
        found = list(syncs[:10])
        if not found:
            where = f" in project {project!r}" if project is not None else ""
            raise CommandError(f"No sync with slug {slug!r}{where}.")
        if len(found) > 1:
            names = ", ".join(sorted(s.project.name for s in found))
            raise CommandError(f"Several projects have a sync {slug!r} ({names}): pass "
                               "--project.")
        return found[0]

    # --- executing ---------------------------------------------------------------------------

    def run_here(self, run: SyncRun, job: Job | None, worker_id: str, timeout: float | None,
                show_progress: bool) -> tuple[SyncRun, bool]:
        contexts: dict = {}
        progress = Progress(self.stderr, show_progress)
        interrupted = threading.Event()
        deadline = time.monotonic() + timeout if timeout is not None else None
        watcher = Watcher(run, worker_id, contexts, progress, deadline, interrupted,
                          self.stderr)
        restore = self.interrupt_handler(interrupted)
        current: list[Job] = []
        watcher.start()
        try:
            if job is None:
                self.stderr.write(f"Job {run.job_id} was taken by a worker: waiting for it.")
            else:
                current[:] = [job]
                execute(job, worker_id, contexts=contexts)
            while True:
                child = self.next_child(run)
                if child is not None:
                    claimed = claiming.claim_by_id(child.pk, worker_id)
                    if claimed is not None:
                        current[:] = [claimed]
                        execute(claimed, worker_id, contexts=contexts)
                    continue
                run.refresh_from_db()
                if not run.is_active or watcher.timed_out.is_set():
                    break
                if not Job.objects.filter(unicity__startswith=f"sync-run:{run.pk}",
                                          status__in=ACTIVE_STATUSES).exists():
                    run.refresh_from_db()  # its last job may have closed it meanwhile
                    if run.is_active:
                        raise CommandError(self.orphaned(run))
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            self.hard_stop(run, current)
            raise CommandError(f"Interrupted: run {run.pk} closed as cancelled.",
                               returncode=130) from None
        finally:
            restore()
            watcher.stop()
        run.refresh_from_db()
        progress.close(run.summary)
        return run, watcher.timed_out.is_set()

    @staticmethod
    def next_child(run: SyncRun) -> Job | None:
        return Job.objects.filter(unicity__startswith=f"sync-run:{run.pk}:",
                                  status=JobStatus.PENDING,
                                  scheduled_at__lte=timezone.now()).order_by(
            "created_at").first()

    @staticmethod
    def orphaned(run: SyncRun) -> str:
        job = Job.objects.filter(pk=run.job_id).first()
        detail = f" (its job {job.status}: {job.error})" if job and job.error else ""
        return (f"Run {run.pk} is still {run.status} but none of its jobs is{detail}; the "
                "sweeper fails it once its heartbeat is older than "
                f"{settings.SYNCS_RUN_HEARTBEAT_TIMEOUT_SECONDS:g}s.")

    def interrupt_handler(self, interrupted: threading.Event):
        """First Ctrl-C: cancel the run cooperatively (the watcher sends it); a second one:
        stop now. Returns the function that restores the previous handler."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = signal.getsignal(signal.SIGINT)

        def interrupt(signum, frame):
            if interrupted.is_set():
                raise KeyboardInterrupt
            interrupted.set()
            self.stderr.write("\nCancelling at the next batch (Ctrl-C again to stop now)…")

        signal.signal(signal.SIGINT, interrupt)
        return lambda: signal.signal(signal.SIGINT, previous)

    @staticmethod
    def hard_stop(run: SyncRun, current: list[Job]) -> None:
        """After a second Ctrl-C: the job that was running here failed, the run cancelled (the
        rows committed so far stay, with their checkpoints)."""
        for job in current:
            outcomes.mark_failed(job, None, "interrupted (KeyboardInterrupt)")
        try:
            services.cancel_run(run, reason="run_sync: interrupted", actor=ACTOR)
        except services.SyncStateError:
            return
        runner.close_cancelled(run.pk)

    # --- the result --------------------------------------------------------------------------

    def report(self, run: SyncRun, seconds: float) -> None:
        result = f" ({run.result_class})" if run.result_class else ""
        self.stdout.write(f"Run {run.pk} {run.status}{result} in {seconds:.1f}s: "
                          f"{run.summary.get('rows_read', 0):,} rows read, "
                          f"{run.summary.get('rows_written', 0):,} written")
        for entity, info in (run.summary.get("entities") or {}).items():
            self.stdout.write(f"  {entity_line(entity, info)}")
        if run.error:
            self.stdout.write(f"Error: {run.error}")
