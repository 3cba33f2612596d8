from django.conf import settings
from django.core.management.base import BaseCommand

from syncservice.accounts.models import ApiKey, Project
from syncservice.accounts.services import create_api_key
from syncservice.demo import run_seeders

DEMO_PROJECT = "demo"


class Command(BaseCommand):
    help = ("Load demo data (a demo project, each app's samples) and print a new write-scope "
            "API key for it, with the URL the server answers on. Safe to run again: the data "
            "is created once, a new key every run.")

    def add_arguments(self, parser):
        parser.add_argument("--quiet-key", action="store_true",
                            help="Print only the key on stdout (for scripts)")
        parser.add_argument("--base-url", default=None,
                            help="The URL the server is served at, as printed (default: "
                                 "DEMO_API_BASE_URL; `make run` gives http://HOST:PORT)")

    def handle(self, *args, quiet_key=False, base_url=None, **options):
        project, _ = Project.objects.get_or_create(
            name=DEMO_PROJECT, defaults={"description": "Demo project created by seed_demo"})
        run_seeders(project)
        key, raw_key = create_api_key(project, name="demo", scope=ApiKey.Scope.WRITE)
        if quiet_key:
            self.stdout.write(raw_key)
            return
        url = (base_url or settings.DEMO_API_BASE_URL).rstrip("/")
        lines = [
            f"\nDemo project {project.name!r} ({project.pk}) is ready.",
            f"API key (write scope, shown once): {raw_key}",
            f"Serving {url}  (index: {url}/api/v1/, docs: {url}/api/v1/docs)",
            "",
            "Paste this line to run the README's examples:",
            f"  export KEY={raw_key} URL={url}",
            "",
            '  curl -H "X-API-Key: $KEY" "$URL/api/v1/projects"',
        ]
        if settings.DEMO_API:
            lines += ["",
                      f"The seeded sync `demo-orders` reads the demo API at {url}/demo-api/ "
                      "(README: \"Sync the demo orders\")."]
        self.stdout.write(self.style.SUCCESS("\n".join(lines) + "\n"))
