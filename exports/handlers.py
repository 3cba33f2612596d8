"""The exports app's job handlers and periodic job. The services they call load with the
first job that needs them, not with the app (a worker starts without them)."""

from django.conf import settings
from django.dispatch import receiver

from exports.job_classes import BUILD_JOB, EXPIRE_JOB
from jobs.periodic import periodic_job
from jobs.registry import job_handler
from jobs.signals import job_reaped


@job_handler(BUILD_JOB, max_retries=0)
def build(ctx, payload: dict) -> dict:
    from exports import services
    from exports.models import Export

    export = Export.objects.select_related("project").get(pk=payload["export_id"])
    return services.build_export(ctx, export)


@job_handler(EXPIRE_JOB, max_retries=0)
def expire(ctx, payload: dict) -> dict:
    from exports import services

    return {"expired": [str(pk) for pk in services.expire_exports()]}


# Expired exports lose their files within an hour of expires_at (EXPORTS_EXPIRE_EVERY_SECONDS).
periodic_job(EXPIRE_JOB, every_seconds=settings.EXPORTS_EXPIRE_EVERY_SECONDS)


@receiver(job_reaped)
def fail_export_of_reaped_job(sender, job, **kwargs) -> None:
    if job.job_class != BUILD_JOB:
        return  # (fail_stalled_build checks it too: this only spares the import)
    from exports import services

    services.fail_stalled_build(job)
