import json
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from jobs.registry import UnknownJobClass, registered_names
from jobs.services import enqueue
from syncservice.accounts.models import Project


class Command(BaseCommand):
    help = "Enqueue a job: enqueue_job NAME --payload '{\"seconds\": 3}' [--project demo]"

    def add_arguments(self, parser):
        parser.add_argument("job_class", help="Registered handler name")
        parser.add_argument("--payload", default="{}", help="JSON object")
        parser.add_argument("--project", default=None, help="Project name")
        parser.add_argument("--priority", type=int, default=0)
        parser.add_argument("--unicity", default=None)
        parser.add_argument("--max-retries", type=int, default=None)
        parser.add_argument("--queue", default="default")
        parser.add_argument("--delay", type=float, default=0, help="Seconds before it is due")

    def handle(self, *args, job_class, payload, project, priority, unicity, max_retries, queue,
               delay, **options):
        try:
            data = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--payload is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise CommandError("--payload must be a JSON object")
        project_obj = None
        if project is not None:
            project_obj = Project.objects.filter(name=project).first()
            if project_obj is None:
                raise CommandError(f"No project named {project!r}")
        try:
            job = enqueue(job_class, data, project=project_obj, priority=priority,
                          unicity=unicity, max_retries=max_retries, queue=queue,
                          scheduled_at=timezone.now() + timedelta(seconds=delay))
        except UnknownJobClass as exc:
            raise CommandError(f"{exc}. Registered: {', '.join(registered_names())}") from exc
        self.stdout.write(str(job.pk))
