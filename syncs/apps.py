from django.apps import AppConfig


class SyncsConfig(AppConfig):
    name = "syncs"
    verbose_name = "Syncs"

    def ready(self) -> None:
        # Handlers, periodic jobs, signal receivers, the demo seeder, each synced table as an
        # exportable resource type, and the app's /metrics gauges. Not the provider catalog:
        # importing ``syncs.providers`` (or any module of it) registers every provider, on
        # first use; nor the connectors: registered by dotted path, imported when opened.
        from syncs import demo, exportables, handlers, metrics, observability  # noqa: F401
        from syncs.connectors import load_builtin_connectors

        load_builtin_connectors()
        exportables.register()
        metrics.register()
        observability.connect()
        # What POST /api/v1/operations (Atomic Operations) writes: these viewsets' own
        # create / update / destroy (dotted paths: imported when first used).
        from syncservice.jsonapi.operation_types import register_type

        register_type("connections", "syncs.api.views.ConnectionViewSet")
        register_type("syncs", "syncs.api.views.SyncViewSet")
        register_type("table-bindings", "syncs.api.views.TableBindingViewSet")
