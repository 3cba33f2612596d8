import logging
import signal

from django.core import checks
from django.core.management.base import BaseCommand

from jobs.worker import Worker


class Command(BaseCommand):
    help = ("Run jobs from the database queue. SIGTERM/SIGINT: stop claiming and finish running "
            "jobs; a second signal releases them back to the queue.")
    # Every check but the URLconf's, the admin's and the templates': those load every view,
    # admin module and template tag library (DRF's, the admin's), which a worker never serves
    # nor renders (``serve``, ``migrate`` and ``check`` run them).
    requires_system_checks = [checks.Tags.models, checks.Tags.signals, checks.Tags.caches,
                              checks.Tags.compatibility, checks.Tags.translation,
                              checks.Tags.files]

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=1,
                            help="Jobs run at once (threads), default 1")
        parser.add_argument("--burst", action="store_true",
                            help="Exit once no job is due instead of waiting for more")
        parser.add_argument("--queue", action="append", default=[], dest="queues",
                            help="Only this queue (repeatable); default: every queue")
        parser.add_argument("--worker-id", default=None, help="Name shown on claimed jobs")
        parser.add_argument("--prefetch", type=int, default=Worker.prefetch,
                            help="PostgreSQL: jobs a runner may claim at once while jobs are "
                                 f"short (< {int(Worker.SHORT_JOB_SECONDS * 1000)} ms), "
                                 f"default {Worker.prefetch}; 1 claims one at a time")

    def handle(self, *args, concurrency, burst, queues, worker_id, prefetch, **options):
        for name, value in (("--concurrency", concurrency), ("--prefetch", prefetch)):
            if value < 1:
                self.stderr.write(f"{name} must be at least 1")
                raise SystemExit(2)
        logging.getLogger("jobs").setLevel(logging.INFO)
        kwargs = {"worker_id": worker_id} if worker_id else {}
        worker = Worker(queues=queues, concurrency=concurrency, burst=burst, prefetch=prefetch,
                        **kwargs)

        def stop(signum, frame):
            worker.request_stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        processed = worker.run()
        self.stdout.write(f"Worker {worker.worker_id} processed {processed} job(s).")
