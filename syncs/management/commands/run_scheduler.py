import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from syncs.services import run_due_schedules, sweep_stalled_runs


class Command(BaseCommand):
    help = ("Trigger scheduled syncs when their cron slot comes (exactly once per slot, even "
            "with several schedulers) and fail runs that stopped heartbeating. Workers do the "
            "same on a periodic tick; this command is for deployments that want it apart.")

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit")
        parser.add_argument("--interval", type=float,
                            default=settings.SYNCS_SCHEDULER_EVERY_SECONDS,
                            help="Seconds between passes")

    def handle(self, *args, once, interval, **options):
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        while True:
            close_old_connections()
            for run in run_due_schedules():
                self.stdout.write(f"Triggered {run.sync.slug}: run {run.pk} ({run.trigger_ref})")
            for run in sweep_stalled_runs():
                self.stdout.write(f"Resumed stalled run as {run.pk}")
            if once or stop.wait(interval):
                break
