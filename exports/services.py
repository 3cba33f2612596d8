"""Exports: creation (validation, one active export per type), the build job, downloads'
bookkeeping, deletion and expiry."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

from exports import uploads
from exports.arrow_rows import ArrowRows
from exports.dry import dry_columns, dry_row
from exports.formats import FORMATS, GZIP_MIME_TYPE, CountingFile, ExportFormat, open_compressed
from exports.job_classes import BUILD_JOB, EXPIRE_JOB
from exports.lines import Lines
from exports.models import ACTIVE_EXPORT_STATUSES, Export, ExportFile, ExportStatus
from exports.registry import get_resource, resource_names
from jobs import services as job_services
from jobs.context import JobInterrupted, JobLost
from jobs.models import FINISHED_STATUSES, Job
from syncservice.events import services as events
from syncservice.events.models import EventKind
from syncservice.jsonapi.errors import Conflict, InvalidAttribute

logger = logging.getLogger("exports")

BATCH_SIZE = 2000
# Parquet's fast path writes a row group per batch: larger ones compress better and cost less.
COPY_BATCH_SIZES = {"parquet": 16384}


def _no_copy(format_name: str) -> bool:
    return False


class ExportStateError(Exception):
    """The export's status forbids the request (the API answers 409)."""


# --- creation -----------------------------------------------------------------------------

@dataclass
class ExportRequest:
    resource_type: str
    format: str = "jsonl"
    filters: dict[str, str] | None = None
    fields: list[str] | None = None
    includes: list[str] | None = None
    dry_data: bool = False
    compress: bool = False
    reference: str = ""
    reference_origin: str = ""
    metadata: dict | None = None


def _string_filters(filters: Any) -> dict[str, str]:
    if filters is None:
        return {}
    if not isinstance(filters, Mapping):
        raise InvalidAttribute("filters", "`filters` must be an object of filter names and "
                                          "values, as filter[name]=value on the list endpoint.")
    result = {}
    for name, value in filters.items():
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (dict, type(None))):
            raise InvalidAttribute("filters", f"Filter {name!r} needs a string, number or list.",
                                   pointer=f"/data/attributes/filters/{name}")
        result[str(name)] = str(value)
    return result


def _string_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidAttribute(name, f"`{name}` must be a list of names.")
    return value


def validate_request(request: ExportRequest, project=None
                     ) -> tuple[ExportFormat, dict, list, list]:
    resource = get_resource(request.resource_type, project)
    if resource is None:
        raise InvalidAttribute("resource_type", f"Unknown resource type "
                                                f"{request.resource_type!r}; exportable: "
                                                f"{', '.join(resource_names(project))}.")
    export_format = FORMATS.get(request.format)
    if export_format is None:
        raise InvalidAttribute("format", f"Unknown format {request.format!r}; formats: "
                                         f"{', '.join(FORMATS)}.")
    if not export_format.available:
        raise InvalidAttribute("format", f"The {export_format.name} format needs the optional "
                                         f"dependency {export_format.requires!r}: install "
                                         f"syncservice[{export_format.extra}].",
                               code="format_unavailable")
    filters = _string_filters(request.filters)
    fields = _string_list(request.fields, "fields")
    includes = _string_list(request.includes, "includes")
    resource.validate(filters, fields, includes)
    return export_format, filters, fields, includes


def create_export(project, request: ExportRequest, *, created_by_id: str | None = None) -> Export:
    """Validate, create the pending export and enqueue its build job.

    Raises ``InvalidAttribute`` (422) on a mistake and ``Conflict`` (409) while a pending or
    processing export of the same project and resource type exists.
    """
    export_format, filters, fields, includes = validate_request(request, project)
    if Export.objects.filter(project=project, resource_type=request.resource_type,
                             status__in=ACTIVE_EXPORT_STATUSES).exists():
        raise _active_conflict(request.resource_type)
    try:
        with transaction.atomic():
            export = Export.objects.create(
                project=project, created_by_id=created_by_id,
                resource_type=request.resource_type, format=export_format.name,
                filters=filters, fields=fields, includes=includes, dry_data=request.dry_data,
                compress=request.compress, reference=request.reference or "",
                reference_origin=request.reference_origin or "",
                metadata=request.metadata or {},
                mime_type=GZIP_MIME_TYPE if request.compress else export_format.mime_type)
            export.job = job_services.enqueue(BUILD_JOB, {"export_id": str(export.pk)},
                                              project=project, unicity=f"export:{export.pk}",
                                              created_by_id=created_by_id, max_retries=0)
            export.save(update_fields=["job"])
            events.record_for(export, EventKind.CREATED, {
                "resource_type": export.resource_type, "format": export.format,
                "actor": created_by_id, "job_id": str(export.job.pk)})
    except IntegrityError:
        raise _active_conflict(request.resource_type) from None
    return export


def _active_conflict(resource_type: str) -> Conflict:
    return Conflict(f"An export of {resource_type} is already pending or processing for this "
                    "project; wait for it to finish.")


# --- building (the exports.build job) ------------------------------------------------------

class _FileSink:
    """Writes rows into a series of files, each under a temporary name until complete.

    Each build (an execution of the export's job) publishes under a folder of its own, and its
    ``ExportFile`` rows are saved only by ``commit``, with the export's success, in one
    transaction fenced on the job: a build whose worker stalled past its heartbeat while the
    job ran again elsewhere never overwrites or lists the other build's files."""

    def __init__(self, export: Export, export_format: ExportFormat, columns: list[str]) -> None:
        self.export = export
        self.format = export_format
        self.columns = columns
        self.max_records = settings.EXPORTS_MAX_RECORDS_PER_FILE
        self.max_bytes = settings.EXPORTS_MAX_BYTES_PER_FILE
        self.build = uuid.uuid4().hex[:12]
        self.published: list[ExportFile] = []  # unsaved until commit
        self.temporary: list[str] = []
        self._open = None

    def _start(self) -> None:
        tmp_dir = _tmp_dir()
        handle, path = tempfile.mkstemp(prefix=".export-", suffix=".part", dir=tmp_dir)
        raw = os.fdopen(handle, "wb")
        counting = CountingFile(raw)
        stream = open_compressed(counting, self.export.compress)
        self._open = {"path": path, "raw": raw, "counting": counting, "stream": stream,
                      "writer": self.format.open(stream, self.columns), "records": 0}
        self.temporary.append(path)

    def write(self, rows: list[dict] | Lines | ArrowRows) -> None:
        """``rows``: row dicts, or rows a resource's COPY fast path encoded already (``Lines``
        of CSV or JSON, ``ArrowRows``), handed to the writer's ``write_encoded``."""
        while rows:
            if self._open is None:
                self._start()
            room = self.max_records - self._open["records"]
            chunk, rows = rows[:room], rows[room:]
            if isinstance(chunk, list):
                self._open["writer"].write(chunk)
            else:
                self._open["writer"].write_encoded(chunk)
            self._open["records"] += len(chunk)
            full = self._open["records"] >= self.max_records or (
                self.format.splittable_by_bytes
                and self._open["counting"].count >= self.max_bytes)
            if full:
                self._publish()

    def close(self) -> None:
        if self._open is not None or not self.published:
            if self._open is None:
                self._start()  # an empty export still gets one (empty) file
            self._publish()

    def _publish(self) -> None:
        current, self._open = self._open, None
        current["writer"].close()
        if current["stream"] is not current["counting"]:
            current["stream"].close()
        current["raw"].close()
        index = len(self.published) + 1
        extension = self.format.extension + (".gz" if self.export.compress else "")
        filename = f"{self.export.resource_type}-{str(self.export.pk)[:8]}-{index}.{extension}"
        name = f"exports/{self.export.project_id}/{self.export.pk}/{self.build}/{filename}"
        digest = hashlib.sha256()
        with open(current["path"], "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        size = os.path.getsize(current["path"])
        stored = publish_file(current["path"], name)
        self.temporary.remove(current["path"])
        self.published.append(ExportFile(
            export=self.export, index=index, storage_name=stored, filename=filename, size=size,
            records_count=current["records"], sha256=digest.hexdigest(),
            mime_type=GZIP_MIME_TYPE if self.export.compress else self.format.mime_type))

    def commit(self, ctx, written: int) -> None:
        """List the files and mark the export succeeded, if this build's job execution still
        owns the job (``ctx.hold``; else ``JobLost`` and nothing is written)."""
        finished = timezone.now()
        first = self.published[0]
        size = sum(f.size for f in self.published)
        expires_at = finished + timedelta(seconds=settings.EXPORTS_EXPIRY_SECONDS)
        with transaction.atomic():
            ctx.hold()
            ExportFile.objects.bulk_create(self.published)
            Export.objects.filter(pk=self.export.pk).update(
                status=ExportStatus.SUCCESS, completed_at=finished, updated_at=finished,
                records_count=written, size=size, filename=first.filename,
                mime_type=first.mime_type, expires_at=expires_at)
            # The files are published (listed) here, with the success: so are their events.
            events.record_many(events.build(
                EventKind.FILE_PUBLISHED, subject_type="exports", subject_id=self.export.pk,
                project_id=self.export.project_id,
                data={"index": f.index, "filename": f.filename, "size": f.size,
                      "records_count": f.records_count, "sha256": f.sha256})
                for f in self.published)
            events.record_for(self.export, EventKind.SUCCEEDED, {
                "records_count": written, "files": len(self.published), "size": size,
                "expires_at": expires_at.isoformat()})

    def discard(self) -> None:
        """Remove everything written: temporary files and already published ones."""
        if self._open is not None:
            for key in ("stream", "raw"):
                try:
                    self._open[key].close()
                except Exception:  # noqa: BLE001 - best effort while cleaning up
                    pass
            self._open = None
        for path in self.temporary:
            _unlink(path)
        self.temporary = []
        delete_files(self.published)
        self.published = []


def _tmp_dir() -> str:
    # On the local storage, temporary files live beside the published ones, so publishing is
    # an atomic rename on the same filesystem.
    if isinstance(default_storage, FileSystemStorage):
        path = os.path.join(default_storage.location, "exports", ".tmp")
    else:
        path = os.path.join(tempfile.gettempdir(), "syncservice-exports")
    os.makedirs(path, exist_ok=True)
    return path


def publish_file(local_path: str, name: str) -> str:
    """Make a complete local file visible under ``name`` in the storage, all at once."""
    if isinstance(default_storage, FileSystemStorage):
        target = default_storage.path(name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(local_path, target)
        return name
    # Object stores show an object only once uploaded (a part at a time, see uploads).
    stored = uploads.upload(local_path, name, default_storage)
    _unlink(local_path)
    return stored


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def delete_files(files: Iterable[ExportFile]) -> None:
    for export_file in files:
        try:
            default_storage.delete(export_file.storage_name)
        except FileNotFoundError:
            pass
        if export_file.pk:
            export_file.delete()


def build_export(ctx, export: Export) -> dict:
    """Write the export's files. Progress goes to the job; a cancel or failure removes every
    file written and records why."""
    resource = get_resource(export.resource_type, export.project)
    if resource is None:
        message = f"The resource type {export.resource_type!r} no longer exists."
        _interrupt(export, ExportStatus.FAILED, {"LookupError": message})
        raise LookupError(message)
    export_format = FORMATS[export.format]
    now = timezone.now()
    with transaction.atomic():
        Export.objects.filter(pk=export.pk).update(status=ExportStatus.PROCESSING,
                                                   started_at=now, updated_at=now)
        started = {"worker_id": str(getattr(ctx, "worker_id", "") or "")}
        if getattr(ctx, "job_id", None) is not None:
            started["job_id"] = str(ctx.job_id)
        events.record_for(export, EventKind.STARTED, started)
    project = export.project
    columns = resource.columns(export.fields, export.includes)
    if export.dry_data:
        columns = dry_columns(columns)
    sink = _FileSink(export, export_format, columns)
    written = 0
    # Straight from COPY when the resource can (PostgreSQL; every format but xlsx): the rows
    # encoded by the database as the format's writer encodes the Python path's rows.
    fast = getattr(resource, "supports_copy", _no_copy)(export.format)
    batches = None
    try:
        total = resource.count(project, export.filters)
        if fast:
            batches = resource.copy_batches(project, export.filters, export.fields,
                                            export.includes, export.format,
                                            COPY_BATCH_SIZES.get(export.format, BATCH_SIZE),
                                            dry=export.dry_data)
        else:
            batches = resource.batches(project, export.filters, export.fields,
                                       export.includes, BATCH_SIZE)
        for batch in batches:
            if export.dry_data and not fast:
                batch = [dry_row(row) for row in batch]
            sink.write(batch)
            written += len(batch)
            ctx.progress(min(99, written * 100 // max(total, 1)))
        sink.close()
        sink.commit(ctx, written)
    except JobLost:
        # Another execution of the job owns the export now: remove only this build's files.
        sink.discard()
        raise
    except JobInterrupted as exc:
        sink.discard()
        _interrupt(export, ExportStatus.CANCELLED, {"cancelled": str(exc) or "cancelled"})
        raise
    except Exception as exc:
        sink.discard()
        _interrupt(export, ExportStatus.FAILED, {type(exc).__name__: str(exc)})
        raise
    finally:
        # A build that stops early ends its reading now (a COPY cancelled, its connection
        # closed), not when the generator is collected: a traceback kept by a caller would
        # keep it, and a COPY of millions of rows running on the server, alive.
        if batches is not None and hasattr(batches, "close"):
            batches.close()
    return {"export_id": str(export.pk), "records_count": written,
            "files": len(sink.published)}


def fail_stalled_build(job: Job) -> bool:
    """The build job of an export was reaped and failed (its worker stopped heartbeating):
    the export fails too at once, so it no longer counts as the active export of its type
    (the expiry sweep would find it as an orphan, but only within the hour)."""
    export_id = (job.payload or {}).get("export_id")
    if job.job_class != BUILD_JOB or job.status != "failed" or not export_id:
        return False
    export = Export.objects.filter(pk=export_id, status__in=ACTIVE_EXPORT_STATUSES).first()
    if export is None:
        return False
    _close_orphan(export, job)
    return True


def _close_orphan(export: Export, job: Job) -> None:
    """An active export whose build job has finished without finishing it."""
    status = ExportStatus.CANCELLED if job.status == "cancelled" else ExportStatus.FAILED
    _interrupt(export, status, {"job": job.error or job.status})


def _interrupt(export: Export, status: str, errors_log: dict) -> None:
    now = timezone.now()
    reason = "; ".join(f"{key}: {value}" for key, value in errors_log.items())[:4000]
    with transaction.atomic():
        Export.objects.filter(pk=export.pk).update(status=status, interrupted_at=now,
                                                   updated_at=now, errors_log=errors_log)
        events.record_for(export, EventKind.CANCELLED if status == ExportStatus.CANCELLED
                          else EventKind.FAILED, {"reason": reason})


# --- deletion, expiry ----------------------------------------------------------------------

def delete_export(export: Export) -> None:
    """Delete an export and its files; refused while pending or processing (the check and the
    delete are one conditional statement, so a build starting meanwhile is never lost)."""
    with transaction.atomic():
        files = list(ExportFile.objects.filter(export_id=export.pk))
        deleted, _ = Export.objects.filter(pk=export.pk).exclude(
            status__in=ACTIVE_EXPORT_STATUSES).delete()
    if not deleted:
        raise ExportStateError("A pending or processing export cannot be deleted; cancel its "
                               "job first (POST /api/v1/jobs/{id}/signal).")
    delete_files(files)


def expire_due(now: datetime | None = None) -> int:
    """Mark every export past its ``expires_at`` expired, now: the API, the admin and
    exports of exports run this before they read exports, so an export reads ``expired``
    (and its download is 410) from ``expires_at`` on, not from the next sweep, whatever
    filter, sort or page reads it and whichever serializer path renders it. The sweep
    deletes the files afterwards.

    Nothing due (the usual case) costs one indexed SELECT and no write. Otherwise the rows
    are locked in id order before the UPDATE, so concurrent readers wait for each other for
    an instant (and then see the rows expired) but never deadlock."""
    now = now or timezone.now()
    due = Export.objects.filter(status=ExportStatus.SUCCESS, expires_at__lte=now)
    if not due.exists():
        return 0
    if connections[router.db_for_write(Export)].features.has_select_for_update:
        due = due.select_for_update()
    # (SQLite: the transaction is IMMEDIATE, so it holds the database's write lock from the
    # SELECT on.) The `expired` events commit with the status change.
    with transaction.atomic():
        rows = list(due.order_by("pk").values_list("pk", "project_id", "expires_at"))
        expired = Export.objects.filter(pk__in=[pk for pk, _, _ in rows],
                                        status=ExportStatus.SUCCESS).update(
            status=ExportStatus.EXPIRED, updated_at=now)
        events.record_many(
            events.build(EventKind.EXPIRED, subject_type="exports", subject_id=pk,
                         project_id=project_id,
                         data={"expires_at": expires_at.isoformat() if expires_at else None})
            for pk, project_id, expires_at in rows)
        return expired


def expire_due_once(request: Any, now: datetime | None = None) -> None:
    """``expire_due`` once per request (a view may build its queryset several times)."""
    if not getattr(request, "_exports_expiry_applied", False):
        expire_due(now)
        request._exports_expiry_applied = True


def expire_exports(now=None) -> list[uuid.UUID]:
    """The expiry sweep: mark exports past ``expires_at`` expired (reads do it too), delete
    the files of expired exports (storage objects, then their rows: a file whose deletion
    failed is tried again next time) and fail exports whose build job ended without
    finishing them (a crashed or reaped worker). Returns the exports whose files it deleted.

    Each export is handled on its own: one that raises (the storage refuses a delete) is
    logged and counted (``periodic_sweep_errors_total{sweep="exports.expire"}``), and the
    sweep goes on with the others."""
    now = now or timezone.now()
    expire_due(now)
    swept = []
    with_files = Export.objects.filter(status=ExportStatus.EXPIRED,
                                       pk__in=ExportFile.objects.values("export_id"))
    for export in with_files.order_by("expires_at", "pk"):
        try:
            delete_files(ExportFile.objects.filter(export_id=export.pk))
        except Exception as exc:  # noqa: BLE001 - one export never stops the sweep
            _sweep_failed(export, exc)
            continue
        swept.append(export.pk)
    orphans = Export.objects.filter(status__in=ACTIVE_EXPORT_STATUSES,
                                    job__status__in=FINISHED_STATUSES)
    for export in orphans.select_related("job"):
        try:
            _close_orphan(export, export.job)
            delete_files(export.files.all())
        except Exception as exc:  # noqa: BLE001 - one export never stops the sweep
            _sweep_failed(export, exc)
    return swept


def _sweep_failed(export: Export, exc: Exception) -> None:
    from syncservice.observability import metrics

    logger.warning("exports.expire skipped export %s: %s: %s", export.pk, type(exc).__name__,
                   exc, exc_info=exc,
                   extra={"task": EXPIRE_JOB, "export_id": str(export.pk),
                          "project_id": str(export.project_id),
                          "reason": type(exc).__name__})
    try:
        metrics.SWEEP_ERRORS.labels(sweep=EXPIRE_JOB, reason=type(exc).__name__).inc()
    except Exception:  # noqa: BLE001 - counting must never stop the sweep
        logger.exception("Could not count an export sweep error")


def file_for_download(export: Export, index: int | None) -> ExportFile:
    from syncservice.jsonapi.errors import Gone, ParameterError

    expired = export.status == ExportStatus.SUCCESS and export.expires_at is not None \
        and export.expires_at <= timezone.now()
    if export.status == ExportStatus.EXPIRED or expired:
        raise Gone("This export has expired: its files are no longer available.")
    if export.status != ExportStatus.SUCCESS:
        raise ExportStateError(f"The export is {export.status}; files can be downloaded once "
                               "it succeeds.")
    files = list(export.files.all())
    if index is None:
        if len(files) > 1:
            raise ParameterError("file", f"This export has {len(files)} files; choose one with "
                                         f"file=1..{len(files)}.")
        index = 1
    for export_file in files:
        if export_file.index == index:
            return export_file
    raise ParameterError("file", f"No file {index}; this export has {len(files)} file(s).")
