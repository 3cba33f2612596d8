from django.core.management.base import BaseCommand

from syncservice.accounts.models import ApiKey, Project
from syncservice.accounts.services import create_api_key
from syncservice.demo import run_seeders

DEMO_PROJECT = "demo"


class Command(BaseCommand):
    help = ("Load demo data (a demo project, each app's samples) and print a new write-scope "
            "API key "
            "for it. Safe to run again: the data is created once, a new key every run.")

    def add_arguments(self, parser):
        parser.add_argument("--quiet-key", action="store_true",
                            help="Print only the key on stdout (for scripts)")

    def handle(self, *args, quiet_key=False, **options):
        project, _ = Project.objects.get_or_create(
            name=DEMO_PROJECT, defaults={"description": "Demo project created by seed_demo"})
        run_seeders(project)
        key, raw_key = create_api_key(project, name="demo", scope=ApiKey.Scope.WRITE)
        if quiet_key:
            self.stdout.write(raw_key)
            return
        self.stdout.write(self.style.SUCCESS(
            f"\nDemo project {project.name!r} ({project.pk}) is ready.\n"
            f"API key (write scope, shown once): {raw_key}\n\n"
            f"  curl -H 'X-API-Key: {raw_key}' http://127.0.0.1:8000/api/v1/projects\n"))
