from django.core.management.base import BaseCommand, CommandError

from syncservice.accounts.models import ApiKey, Project
from syncservice.accounts.services import create_api_key


class Command(BaseCommand):
    help = "Create an API key for a project and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="Project name")
        parser.add_argument("--scope", choices=ApiKey.Scope.values, default=ApiKey.Scope.READ)
        parser.add_argument("--name", default="", help="A label for the key")
        parser.add_argument("--create-project", action="store_true",
                            help="Create the project if it does not exist")

    def handle(self, *args, project, scope, name, create_project, **options):
        if create_project:
            project_obj, _ = Project.objects.get_or_create(name=project)
        else:
            try:
                project_obj = Project.objects.get(name=project)
            except Project.DoesNotExist as exc:
                raise CommandError(f"No project named {project!r} "
                                   "(add --create-project to create it).") from exc
        key, raw_key = create_api_key(project_obj, name=name, scope=scope)
        self.stderr.write(f"Created {scope} key {key.prefix} for project {project_obj.name}.")
        self.stdout.write(raw_key)
