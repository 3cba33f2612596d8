"""Export builds as metrics: finished exports by format and status, and their records
(connected in ``ExportsConfig.ready``)."""

from __future__ import annotations

from exports.job_classes import BUILD_JOB
from jobs.signals import job_finished
from syncservice.observability import metrics
from syncservice.observability.receivers import never_raises


@never_raises
def on_job_finished(sender, job, status, **kwargs) -> None:
    if job.job_class != BUILD_JOB:
        return
    export_id = (job.payload or {}).get("export_id")
    if not export_id:
        return
    from exports.models import Export

    row = Export.objects.filter(pk=export_id).values("format", "status",
                                                     "records_count").first()
    if row is None or row["status"] in ("pending", "processing"):
        return  # released or retrying: counted when it really ends
    metrics.EXPORTS_FINISHED.labels(format=row["format"], status=row["status"]).inc()
    if row["status"] == "success" and row["records_count"]:
        metrics.EXPORT_RECORDS.labels(format=row["format"]).inc(row["records_count"])


def connect() -> None:
    job_finished.connect(on_job_finished, dispatch_uid="observability.export_finished")
