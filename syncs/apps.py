from django.apps import AppConfig


class SyncsConfig(AppConfig):
    name = "syncs"
    verbose_name = "Syncs"

    def ready(self) -> None:
        # Handlers, periodic jobs, signal receivers, the provider catalog, the demo seeder.
        from syncs import demo, handlers, providers  # noqa: F401
        from syncs import exportables
        from syncs.connectors import load_builtin_connectors

        load_builtin_connectors()
        exportables.register()  # each synced table is exportable by its logical name
