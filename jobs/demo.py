from jobs.models import Job
from jobs.services import enqueue
from syncservice.demo import demo_seeder


@demo_seeder
def seed_jobs(project) -> None:
    """A few jobs for the worker that `make run` starts: one slow with progress, one quick,
    one failing (to show error and error_details). Once per database."""
    if Job.objects.filter(project=project).exists():
        return
    enqueue("jobs.sleep", {"seconds": 20, "steps": 20}, project=project)
    enqueue("jobs.noop", project=project, priority=10)
    enqueue("jobs.fail", {"message": "Demo failure: see error and error_details"},
            project=project, priority=5)
