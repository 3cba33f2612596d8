"""Tracebacks move out of ``error_details`` (served by the API) into ``error_traceback``
(shown to operators in the admin only)."""

from django.db import migrations, models


def move_tracebacks(apps, schema_editor):
    Job = apps.get_model("jobs", "Job")
    rows = Job.objects.filter(error_details__has_key="traceback").only("pk", "error_details")
    for job in rows.iterator(chunk_size=500):
        details = dict(job.error_details)
        text = details.pop("traceback")
        Job.objects.filter(pk=job.pk).update(error_details=details,
                                             error_traceback=str(text or ""))


def restore_tracebacks(apps, schema_editor):
    Job = apps.get_model("jobs", "Job")
    rows = Job.objects.exclude(error_traceback="").only("pk", "error_details",
                                                          "error_traceback")
    for job in rows.iterator(chunk_size=500):
        details = job.error_details if isinstance(job.error_details, dict) else {}
        Job.objects.filter(pk=job.pk).update(
            error_details={**details, "traceback": job.error_traceback})


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0002_claim_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='job',
            name='error_traceback',
            field=models.TextField(blank=True, default='', help_text='Traceback of the last failure (admin only)'),
        ),
        migrations.RunPython(move_tracebacks, restore_tracebacks, elidable=True),
    ]
