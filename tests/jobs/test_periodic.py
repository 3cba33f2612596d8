from datetime import timedelta

from django.utils import timezone

from jobs.models import Job
from jobs.periodic import ensure_periodic_jobs, periodic_job, registered_periodic_jobs


def test_exports_expiry_is_registered():
    assert "exports.expire" in {p.job_class for p in registered_periodic_jobs()}


def test_one_pending_run_at_a_time_then_the_next_after_the_interval(db):
    entry = periodic_job("jobs.noop", every_seconds=600)
    try:
        created = ensure_periodic_jobs()
        mine = [job for job in created if job.job_class == "jobs.noop"]
        assert len(mine) == 1 and mine[0].scheduled_at <= timezone.now()
        assert not [j for j in ensure_periodic_jobs() if j.job_class == "jobs.noop"]
        first = mine[0]
        Job.objects.filter(pk=first.pk).update(status="succeeded")
        (following,) = [j for j in ensure_periodic_jobs() if j.job_class == "jobs.noop"]
        assert following.scheduled_at == first.scheduled_at + timedelta(seconds=600)
        assert Job.objects.filter(unicity=entry.unicity).count() == 2
    finally:
        from jobs import periodic

        periodic._periodic.pop("jobs.noop", None)
