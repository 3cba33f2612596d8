from django.conf import settings
from django.dispatch import receiver

from exports import services
from exports.models import Export
from jobs.periodic import periodic_job
from jobs.registry import job_handler
from jobs.signals import job_reaped


@job_handler(services.BUILD_JOB, max_retries=0)
def build(ctx, payload: dict) -> dict:
    export = Export.objects.select_related("project").get(pk=payload["export_id"])
    return services.build_export(ctx, export)


@job_handler(services.EXPIRE_JOB, max_retries=0)
def expire(ctx, payload: dict) -> dict:
    return {"expired": [str(pk) for pk in services.expire_exports()]}


# Expired exports lose their files within an hour of expires_at (EXPORTS_EXPIRE_EVERY_SECONDS).
periodic_job(services.EXPIRE_JOB, every_seconds=settings.EXPORTS_EXPIRE_EVERY_SECONDS)


@receiver(job_reaped)
def fail_export_of_reaped_job(sender, job, **kwargs) -> None:
    services.fail_stalled_build(job)
