from django.apps import AppConfig


class SyncsConfig(AppConfig):
    name = "syncs"
    verbose_name = "Syncs"

    def ready(self) -> None:
        from syncs import handlers, providers  # noqa: F401 - handlers, periodic jobs, signals

        # and the provider catalog
        from syncs.connectors import load_builtin_connectors

        load_builtin_connectors()
