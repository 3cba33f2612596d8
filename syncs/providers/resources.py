"""Builders for the recurring shapes of a provider's resources (``ResourceSpec``): an entity
re-read in full (``snapshot``), one read incrementally on a cursor (``incremental``), one read
through the records of another (``dependent``), and the blobs written to object storage
(``blobs``, ``file_contents``). Each keeps ``ResourceSpec``'s own keywords for the rest."""

from __future__ import annotations

from typing import Any

from syncs.providers.base import ResourceSpec, cursor_window
from syncs.providers.schemas import integer, obj

ID = ("id",)


def snapshot(key: str, display: str, source: str | None, description: str, *,
             size: str = "xs", primary_key: tuple[str, ...] | list[str] = ID,
             **options: Any) -> ResourceSpec:
    """An entity without a cursor of its own, re-read in full each run (``replace``)."""
    options.setdefault("load_mode", "replace")
    return ResourceSpec(entity_key=key, display_name=display, source_name=source,
                        description=description, primary_key=list(primary_key),
                        size_class=size, **options)


def incremental(key: str, display: str, source: str | None, description: str, *, cursor: str,
                window: str | None = None, cursor_format: str = "iso8601", size: str = "m",
                load_mode: str = "upsert", primary_key: tuple[str, ...] | list[str] = ID,
                **options: Any) -> ResourceSpec:
    """An entity read incrementally on ``cursor``; with ``window``, a range the API filters
    on, so ``fan_out_window`` runs may split it."""
    slicing = cursor_window(cursor, window, cursor_format) if window else {}
    return ResourceSpec(entity_key=key, display_name=display, source_name=source,
                        description=description, cursor_field=cursor,
                        primary_key=list(primary_key), load_mode=load_mode, size_class=size,
                        slicing=slicing, **options)


def dependent(key: str, display: str, source: str | None, description: str, *,
          parent: str | list[str], size: str = "m", load_mode: str = "upsert",
          primary_key: tuple[str, ...] | list[str] = ID, **options: Any) -> ResourceSpec:
    """An entity read through ``parent``'s records (read first): the parents changed in the
    run, or all of them."""
    parents = [parent] if isinstance(parent, str) else list(parent)
    return ResourceSpec(entity_key=key, display_name=display, source_name=source,
                        description=description, primary_key=list(primary_key),
                        load_mode=load_mode, depends_on=parents, size_class=size, **options)


def blobs(key: str, display: str, source: str | None, description: str, *, parent: str,
          storage_description: str, primary_key: tuple[str, ...] | list[str] = ID,
          **options: Any) -> ResourceSpec:
    """Contents written to object storage, one blob per record of ``parent``."""
    options.setdefault("size", "l")
    return dependent(key, display, source, description, parent=parent, primary_key=primary_key,
                 storage_kind="object_storage", storage_description=storage_description,
                 **options)


def file_contents(key: str, source: str, *, parent: str, storage_description: str,
                  description: str = "The content of each file changed in the run.",
                  ) -> ResourceSpec:
    """The contents of a file listing's files (Drive, Dropbox, SharePoint), larger files
    skipped."""
    limit = integer("Larger files are skipped.", minimum=1, default=512)
    return blobs(key, "File contents", source, description, parent=parent,
                 storage_description=storage_description,
                 config_schema=obj({"max_file_size_mb": limit}))
