from django.core.management.base import BaseCommand

from exports import services
from exports.models import Export


class Command(BaseCommand):
    help = ("Delete the files of expired exports (past their expires_at: every read shows "
            "them expired and their download is 410 already; this stores the status too) and "
            "fail exports whose build job ended without finishing them. Lists the exports "
            "whose files it deleted. The exports.expire job does the same on a schedule.")

    def handle(self, *args, **options):
        expired = services.expire_exports()
        exports = Export.objects.select_related("project").in_bulk(expired)
        for pk in expired:
            export = exports.get(pk)
            if export is None:  # deleted meanwhile
                self.stdout.write(str(pk))
                continue
            expires_at = export.expires_at.isoformat() if export.expires_at else "-"
            self.stdout.write(f"{pk} {export.resource_type} as {export.format} of "
                              f"{export.project.name} (expires_at {expires_at})")
        self.stdout.write(f"Expired {len(expired)} export(s).")
