from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Exports"

    def ready(self) -> None:
        from exports import (
            handlers,  # noqa: F401 - registers the export jobs
            observability,
        )
        from exports.registrations import register_service_resources

        register_service_resources()
        observability.connect()
