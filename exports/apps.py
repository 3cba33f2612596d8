from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Exports"

    def ready(self) -> None:
        from exports import handlers  # noqa: F401 - registers the export jobs
        from exports.registrations import register_service_resources

        register_service_resources()
