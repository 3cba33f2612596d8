from django.core.management.base import BaseCommand
from django.db import transaction

from syncs import secrets
from syncs.models import Connection


class Command(BaseCommand):
    help = ("Re-encrypt every connection's secrets with the first key of SYNCS_SECRETS_KEYS "
            "(after prepending a new key); then the old keys can be removed.")

    def handle(self, *args, **options):
        count = 0
        with transaction.atomic():
            for connection in Connection.objects.select_for_update().exclude(
                    secrets_encrypted=""):
                connection.secrets_encrypted = secrets.rotate(connection.secrets_encrypted)
                connection.save(update_fields=["secrets_encrypted", "updated_at"])
                count += 1
        self.stdout.write(f"Re-encrypted the secrets of {count} connection(s).")
