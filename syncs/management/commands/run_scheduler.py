import logging
import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from syncs.services import run_due_schedules, sweep_stalled_runs

logger = logging.getLogger("syncs")


class Command(BaseCommand):
    help = ("Trigger scheduled syncs when their cron slot comes (exactly once per slot, even "
            "with several schedulers) and fail runs that stopped heartbeating. Workers do the "
            "same on a periodic tick; this command is for deployments that want it apart. "
            "A sync that cannot be evaluated is marked error (with the reason in last_error) "
            "and skipped; the pass goes on with the others.")

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
            # Each sync and run is isolated inside these passes; what still raises here (the
            # database is unreachable) fails this pass only: the next one tries again.
            failed = [name for name, step in (("schedule", self.schedule),
                                              ("sweep", self.sweep)) if not step()]
            if once:
                if failed:
                    raise CommandError(f"The {' and '.join(failed)} pass failed (see the log).")
                break
            if stop.wait(interval):
                break

    def schedule(self) -> bool:
        return self.run_pass("Scheduler pass", run_due_schedules, lambda run: (
            f"Triggered {run.sync.slug}: run {run.pk} ({run.trigger_ref})"))

    def sweep(self) -> bool:
        return self.run_pass("Stalled-run sweep", sweep_stalled_runs,
                             lambda run: f"Resumed stalled run as {run.pk}")

    def run_pass(self, name: str, runs: Callable[[], Iterable[Any]],
                 describe: Callable[[Any], str]) -> bool:
        try:
            for run in runs():
                self.stdout.write(describe(run))
        except Exception:  # noqa: BLE001 - the loop outlives one failed pass
            logger.exception("%s failed", name)
            return False
        return True
