"""List the stored connections and syncs that fail today's schemas (rows written before the
schemas existed, by hand, or before a provider's schema changed), naming each field to fix.
Exit status 1 when any does, so a deployment can gate on it."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from syncs import schemas
from syncs import secrets as secret_store
from syncs.models import Connection, Sync
from syncs.providers import base as catalog

CHUNK = 500


def connection_problems(connection: Connection) -> list[tuple[str, str]]:
    """The stored config's problems and, when they can be read, the secrets' (messages never
    quote a value)."""
    problems = schemas.stored_connection_problems(connection)
    spec = catalog.get_provider(connection.provider)
    if spec is not None:
        try:
            stored = secret_store.decrypt(connection.secrets_encrypted)
        except secret_store.SecretsError:
            problems.append(("/secrets", "cannot be decrypted with SYNCS_SECRETS_KEYS"))
        else:
            problems += schemas.prefixed(catalog.validate_secrets(spec, stored), "/secrets")
    return problems


class Command(BaseCommand):
    help = ("List stored connections and syncs whose attributes fail today's JSON Schemas, "
            "each with the fields to fix; exit status 1 when any does.")

    def add_arguments(self, parser):
        parser.add_argument("--project", help="Only this project (id).")

    def handle(self, *args, project=None, **options):
        connections = Connection.objects.order_by("pk")
        syncs = Sync.objects.select_related("connection").order_by("pk")
        if project:
            connections = connections.filter(project_id=project)
            syncs = syncs.filter(project_id=project)
        bad = checked = 0
        for connection in connections.iterator(chunk_size=CHUNK):
            checked += 1
            problems = connection_problems(connection)
            if problems:
                bad += 1
                self.stdout.write(f"connection {connection.pk} ({connection.name!r}, project "
                                  f"{connection.project_id}): {schemas.describe(problems)}")
        for sync in syncs.iterator(chunk_size=CHUNK):
            checked += 1
            problems = schemas.stored_sync_problems(sync)
            if problems:
                bad += 1
                self.stdout.write(f"sync {sync.pk} ({sync.slug!r}, project {sync.project_id}): "
                                  f"{schemas.describe(problems)}")
        if bad:
            raise CommandError(f"{bad} of {checked} stored connections and syncs fail today's "
                               "schemas; fix them with PATCH (fields listed above).",
                               returncode=1)
        self.stdout.write(f"All {checked} stored connections and syncs pass today's schemas.")
