"""Database routing: cursor checkpoints (syncs.SyncState) live in the warehouse database, so
they commit in the same transaction as the rows they cover."""

from django.conf import settings

WAREHOUSE_MODELS = {("syncs", "syncstate")}


class WarehouseRouter:
    def _is_warehouse(self, model) -> bool:
        return (model._meta.app_label, model._meta.model_name) in WAREHOUSE_MODELS

    def db_for_read(self, model, **hints):
        return settings.WAREHOUSE_DATABASE_ALIAS if self._is_warehouse(model) else None

    db_for_write = db_for_read

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if settings.WAREHOUSE_DATABASE_ALIAS == "default":
            return None
        if (app_label, model_name) in WAREHOUSE_MODELS:
            return db == settings.WAREHOUSE_DATABASE_ALIAS
        if db == settings.WAREHOUSE_DATABASE_ALIAS:
            return False
        return None
