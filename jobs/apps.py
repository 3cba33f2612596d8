from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        # Handlers, the demo seeder, and the receivers recording jobs' events.
        from jobs import demo, events, handlers, observability  # noqa: F401
        from jobs.backends import register_backend

        register_backend("native", "jobs.native.dispatch")
        register_backend("celery", "jobs.celery.dispatch")
        # The lifecycle log lines and metrics (after the events' receivers: those record
        # with the job's log context still bound).
        observability.connect()
