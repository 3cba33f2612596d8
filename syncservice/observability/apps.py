from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "syncservice.observability"
    label = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from syncservice.observability import metrics, receivers

        receivers.connect()
        metrics.start_exporter_if_configured()
