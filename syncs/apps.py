from django.apps import AppConfig


class SyncsConfig(AppConfig):
    name = "syncs"
    verbose_name = "Syncs"

    def ready(self) -> None:
        # Handlers, periodic jobs, signal receivers, the provider catalog, the demo seeder,
        # and each synced table as an exportable resource type.
        from syncs import demo, exportables, handlers, providers  # noqa: F401
        from syncs.connectors import load_builtin_connectors

        load_builtin_connectors()
        exportables.register()
