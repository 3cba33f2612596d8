"""``manage.py export RESOURCE_TYPE --project NAME ...``: the API's export, built right here.

The export is created by ``services.create_export`` (the same validation, the same one-active-
export rule, the same build job row) and its job is claimed in the same transaction, so no
worker ever sees it pending; then ``services.build_export`` runs inline with a context that
moves a progress bar and records progress, liveness and cancellation on the job row as a
worker would. Ctrl-C cancels cooperatively (the partial files are removed); a second Ctrl-C
stops at once.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction
from django.utils import timezone
from rest_framework.exceptions import APIException
from tqdm import tqdm

from exports import services
from exports.formats import FORMATS
from exports.models import ACTIVE_EXPORT_STATUSES, Export, ExportFile, ExportStatus
from jobs import claiming, outcomes
from jobs.context import JobCancelled, JobContext, JobInterrupted
from jobs.models import Job, JobStatus
from syncservice.accounts.models import Project


class CommandJobContext:
    """The context ``build_export`` gets: a real ``JobContext`` of the claimed job (progress,
    heartbeat, checkpoint and cancellation on the job row) whose progress also moves a bar."""

    def __init__(self, job: Job, worker_id: str, bar: tqdm) -> None:
        self.job_context = JobContext(job, worker_id)
        self.bar = bar

    def progress(self, percent: float) -> None:
        self.job_context.progress(percent)
        self.bar.n = self.job_context.job.progress
        self.bar.refresh()

    def __getattr__(self, name: str):
        return getattr(self.job_context, name)


class Heartbeat(threading.Thread):
    """Keeps the job's heartbeat fresh between progress calls (as a worker's keeper thread
    does), so a slow batch is never taken for a stalled job and reaped."""

    def __init__(self, job: Job, worker_id: str) -> None:
        super().__init__(name="export-heartbeat", daemon=True)
        self.job_id = job.pk
        self.worker_id = worker_id
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.wait(settings.JOBS_HEARTBEAT_SECONDS):
                try:
                    Job.objects.filter(pk=self.job_id, status=JobStatus.RUNNING,
                                       worker_id=self.worker_id).update(
                        heartbeat_at=timezone.now())
                except Exception:  # noqa: BLE001 - a missed beat is retried at the next one
                    pass
        finally:
            connections.close_all()

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def parse_filters(raw: list[str]) -> dict[str, str]:
    filters: dict[str, str] = {}
    for item in raw:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CommandError(f"--filter takes NAME=VALUE (e.g. status=failed), not {item!r}.")
        if name in filters:
            raise CommandError(f"--filter {name} is given twice; list several values with "
                               f"{name}__in=a,b where the filter allows it.")
        filters[name] = value
    return filters


def names(raw: str | None) -> list[str]:
    return [name.strip() for name in (raw or "").split(",") if name.strip()]


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def created_by() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


class Command(BaseCommand):
    help = ("Export a resource type of a project to file(s), as the API's POST /exports/export "
            "does, but built here and now (no worker needed). Prints the export id and a "
            "summary; --output copies the file(s) out of the storage.")

    def add_arguments(self, parser):
        parser.add_argument("resource_type", help="What to export, e.g. jobs")
        parser.add_argument("--project", required=True, help="Project name")
        parser.add_argument("--format", default="jsonl",
                            help=f"File format: {', '.join(FORMATS)} (default: jsonl)")
        parser.add_argument("--filter", action="append", default=[], dest="filters",
                            metavar="NAME=VALUE",
                            help="A filter of the resource's API, as filter[NAME]=VALUE "
                                 "(repeatable), e.g. --filter status__in=failed,cancelled")
        parser.add_argument("--fields", default=None, help="Comma list of fields (default: all)")
        parser.add_argument("--includes", default=None,
                            help="Comma list of relationships to embed, e.g. project")
        parser.add_argument("--dry-data", action="store_true",
                            help="Leave out ids, foreign keys, timestamps and blank values")
        parser.add_argument("--compress", action="store_true", help="gzip the file(s)")
        parser.add_argument("--reference", default="", help="Free reference stored on the export")
        parser.add_argument("--output", default=None, metavar="PATH",
                            help="Copy the file there (several files: into directory PATH, "
                                 "under their own names)")
        parser.add_argument("--no-progress", action="store_true",
                            help="No progress bar (it is shown only on a terminal anyway)")

    def handle(self, *args, resource_type, project, format, filters, fields, includes,
               dry_data, compress, reference, output, no_progress, **options):
        project_obj = Project.objects.filter(name=project).first()
        if project_obj is None:
            raise CommandError(f"No project named {project!r}.")
        request = services.ExportRequest(
            resource_type=resource_type, format=format, filters=parse_filters(filters),
            fields=names(fields), includes=names(includes), dry_data=dry_data,
            compress=compress, reference=reference)
        worker_id = f"cli:{os.getpid()}"
        try:
            # Claimed in the transaction that creates it: no worker ever sees the job pending.
            with transaction.atomic():
                export = services.create_export(project_obj, request,
                                                created_by_id=created_by())
                job = claiming.claim_by_id(export.job_id, worker_id)
        except APIException as exc:
            raise CommandError(str(exc.detail)) from exc
        if job is None:  # cannot happen unless someone else claims ids they never saw
            raise CommandError(f"The build job {export.job_id} of export {export.pk} was taken "
                               "by someone else.")
        self.stdout.write(f"Export {export.pk}: {export.resource_type} of {project_obj.name} "
                          f"as {export.format} (job {job.pk})")

        self.build(export, job, worker_id, disable_bar=True if no_progress else None)

        export = Export.objects.get(pk=export.pk)
        files = list(export.files.order_by("index"))
        self.stdout.write(f"Export {export.pk} {export.status}: "
                          f"{plural(export.records_count or 0, 'record')}, "
                          f"{plural(len(files), 'file')}, {plural(export.size or 0, 'byte')}")
        for export_file in files:
            self.stdout.write(f"  {export_file.index}. {export_file.filename}: "
                              f"{plural(export_file.records_count, 'record')}, "
                              f"{plural(export_file.size, 'byte')}, "
                              f"sha256 {export_file.sha256}")
        if output:
            for target in self.copy(files, Path(output)):
                self.stdout.write(f"Wrote {target}")

    # --- building ------------------------------------------------------------------------------

    def build(self, export: Export, job: Job, worker_id: str, disable_bar: bool | None) -> None:
        stream = getattr(self.stderr, "_out", self.stderr)
        bar = tqdm(total=100, desc=f"{export.resource_type} as {export.format}", unit="%",
                   file=stream, disable=disable_bar, leave=True,
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
        ctx = CommandJobContext(job, worker_id, bar)
        heartbeat = Heartbeat(job, worker_id)
        heartbeat.start()
        restore = self.cancel_on_interrupt(ctx)
        try:
            result = services.build_export(ctx, Export.objects.select_related("project")
                                           .get(pk=export.pk))
        except JobCancelled as exc:
            outcomes.mark_cancelled(job)
            raise CommandError(f"Export {export.pk} cancelled; its files were removed.") \
                from exc
        except JobInterrupted as exc:  # the job row was taken from us (reaped or deleted)
            raise CommandError(f"Export {export.pk} stopped: {exc}") from exc
        except KeyboardInterrupt:
            outcomes.mark_failed(job, None, "interrupted (KeyboardInterrupt)")
            self.abandon(export)
            raise
        except Exception as exc:
            outcomes.mark_failed(job, exc)
            raise CommandError(f"Export {export.pk} failed: {type(exc).__name__}: {exc}") \
                from exc
        else:
            outcomes.mark_succeeded(job, result)
            bar.n = 100
            bar.refresh()
        finally:
            restore()
            heartbeat.stop()
            bar.close()

    def cancel_on_interrupt(self, ctx: CommandJobContext):
        """First Ctrl-C: cancel cooperatively at the next batch; a second one: stop now.
        Returns the function that restores the previous handler."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = signal.getsignal(signal.SIGINT)
        interrupted = threading.Event()

        def interrupt(signum, frame):
            if interrupted.is_set():
                raise KeyboardInterrupt
            interrupted.set()
            ctx.mark_cancel_requested()
            self.stderr.write("\nCancelling at the next batch (Ctrl-C again to stop now)…")

        signal.signal(signal.SIGINT, interrupt)
        return lambda: signal.signal(signal.SIGINT, previous)

    @staticmethod
    def abandon(export: Export) -> None:
        """After a hard stop: the export failed; remove the files it published so far."""
        now = timezone.now()
        Export.objects.filter(pk=export.pk, status__in=ACTIVE_EXPORT_STATUSES).update(
            status=ExportStatus.FAILED, interrupted_at=now, updated_at=now,
            errors_log={"interrupted": "stopped by KeyboardInterrupt"})
        services.delete_files(export.files.all())

    # --- --output ------------------------------------------------------------------------------

    def copy(self, files: list[ExportFile], output: Path) -> list[Path]:
        if len(files) == 1 and not output.is_dir():
            targets = [output]
        else:
            if output.exists() and not output.is_dir():
                raise CommandError(f"The export has {len(files)} files: --output must be a "
                                   f"directory, and {output} is a file. The export itself "
                                   "succeeded; download its files from the API or the admin.")
            targets = [output / export_file.filename for export_file in files]
        for export_file, target in zip(files, targets, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            with default_storage.open(export_file.storage_name, "rb") as source, \
                    open(target, "wb") as destination:
                shutil.copyfileobj(source, destination, 1 << 20)
        return targets
