from django.core.management.base import BaseCommand

from jobs.reaping import reap_stalled


class Command(BaseCommand):
    help = ("Requeue (or fail, when no retries remain) running jobs whose heartbeat is older "
            "than JOBS_HEARTBEAT_TIMEOUT_SECONDS; jobs claimed but never started go back to "
            "pending without a retry charged. Workers do this on their own too.")

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=None,
                            help="Heartbeat timeout in seconds (default: the setting)")

    def handle(self, *args, timeout, **options):
        reaped = reap_stalled(timeout)
        for job in reaped:
            why = job.error if job.started_at is not None else "claimed, never started"
            self.stdout.write(f"{job.pk} {job.job_class} -> {job.status} ({why})")
        self.stdout.write(f"Reaped {len(reaped)} stalled job(s).")
