"""The resource types ``POST /api/v1/operations`` (Atomic Operations) writes, registered by the
apps in ``AppConfig.ready`` by dotted path: registering loads neither the operations view nor
the apps' API modules (workers never serve the API)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.module_loading import import_string

from syncservice.jsonapi import MEDIA_TYPE

# The extension's media type, and how many operations one request may carry (here, below the
# operations view, so the OpenAPI layer reads them without importing the view).
ATOMIC_EXT = "https://jsonapi.org/ext/atomic"
ATOMIC_MEDIA_TYPE = f'{MEDIA_TYPE}; ext="{ATOMIC_EXT}"'
MAX_OPERATIONS = 100


@dataclass(frozen=True)
class OperationType:
    """A resource type the operations endpoint writes: its viewset (whose ``create``,
    ``partial_update`` and ``destroy`` serve add, update and remove; a class or its dotted
    path) and its collection path under ``/api/v1/``."""

    type_name: str
    viewset_path: type | str
    path: str

    @property
    def viewset(self) -> type:
        # A dotted path is imported at first use.
        if isinstance(self.viewset_path, str):
            return import_string(self.viewset_path)
        return self.viewset_path


_TYPES: dict[str, OperationType] = {}


def register_type(type_name: str, viewset: type | str, path: str | None = None) -> None:
    """Let ``/operations`` write resources of ``type_name`` through ``viewset`` (a class or
    its dotted path)."""
    _TYPES[type_name] = OperationType(type_name, viewset, path or type_name)


def registered_types() -> Mapping[str, OperationType]:
    return dict(_TYPES)
