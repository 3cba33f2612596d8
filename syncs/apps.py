from django.apps import AppConfig


class SyncsConfig(AppConfig):
    name = "syncs"
    verbose_name = "Syncs"

    def ready(self) -> None:
        # Handlers, periodic jobs, signal receivers, the provider catalog, the demo seeder,
        # each synced table as an exportable resource type, and the app's /metrics gauges.
        from syncs import demo, exportables, handlers, metrics, providers  # noqa: F401
        from syncs.connectors import load_builtin_connectors

        load_builtin_connectors()
        exportables.register()
        metrics.register()
