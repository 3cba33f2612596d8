"""Child streams: an entity read for the parent records read with the same cursor.

``parent`` {stream, vars: {placeholder: parent field}, fields: {child field: parent field},
embedded: list field of the parent record, ids: {param, field, chunk}, full, own_cursor}:
one ``ChildReader`` per way of finding the children (``embedded`` in the parent record, one
request per chunk of parent ``ids``, one request per distinct set of parent ``vars``).

Checkpoints: without ``own_cursor`` each child batch carries its parent batch's cursor (the
parents' checkpoint is the children's); with it, the parents are read in full and the
children's own ``cursor_field`` is the checkpoint, written once the stream is read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from syncs.connectors.http_api.cursors import cursor_key, later, latest
from syncs.connectors.sources import Batch


class StreamSource(Protocol):
    """What a child reader uses of its source (``source.HttpApiSource``, which imports this
    module: a protocol, not an import back)."""

    def placeholders(self, extra: dict | None = None) -> dict: ...

    def stream_for(self, entity: str) -> dict: ...

    def transform(self, stream: dict, records: list[dict], values: dict) -> list[dict]: ...

    def pages(self, stream: dict, *, cursor: Any = None, window: tuple | None = None,
              values: dict | None = None) -> Iterator[list[dict]]: ...

    def read_stream(self, stream: dict, *, cursor: Any = None, window: tuple | None = None,
                    entity_config: dict | None = None, values: dict | None = None
                    ) -> Iterator[Batch]: ...


class ChildReader:
    """Finds the children of one batch of parent records."""

    def __init__(self, source: StreamSource, stream: dict, *, cursor: Any,
                 window: tuple | None) -> None:
        self.source = source
        self.stream = stream
        self.parent = stream["parent"]
        self.own = bool(self.parent.get("own_cursor"))
        # Only a child with its own cursor filters its requests by it.
        self.cursor = cursor if self.own else None
        self.window = window if self.own else None

    def extra(self, record: dict) -> dict:
        """The parent's fields copied into each child (``fields``)."""
        return {k: record.get(v) for k, v in (self.parent.get("fields") or {}).items()}

    def pages(self, child_stream: dict, values: dict) -> Iterator[list[dict]]:
        return self.source.pages(child_stream, cursor=self.cursor, window=self.window,
                                 values=self.source.placeholders(values))

    def children(self, parents: list[dict]) -> list[dict]:
        raise NotImplementedError


class EmbeddedChildren(ChildReader):
    """Children listed inside each parent record (no requests)."""

    def children(self, parents: list[dict]) -> list[dict]:
        found: list[dict] = []
        name = self.parent["embedded"]
        for record in parents:
            extra = self.extra(record)
            embedded = record.get(name)
            if isinstance(embedded, dict):
                embedded = [embedded]
            for child in embedded if isinstance(embedded, list) else []:
                found.append({**child, **extra} if isinstance(child, dict)
                             else {"value": child, **extra})
        return self.source.transform(self.stream, found, self.source.placeholders())


class IdsChildren(ChildReader):
    """One request per ``chunk`` of parent ids, joined with commas into ``param`` (and the
    ``{ids}`` placeholder)."""

    def children(self, parents: list[dict]) -> list[dict]:
        ids = self.parent["ids"]
        wanted = list(dict.fromkeys(r.get(ids["field"]) for r in parents
                                    if r.get(ids["field"]) is not None))
        chunk = int(ids.get("chunk", 100))
        found: list[dict] = []
        for start in range(0, len(wanted), chunk):
            joined = ",".join(str(v) for v in wanted[start:start + chunk])
            params = dict(self.stream.get("params", {}))
            if ids.get("param"):
                params[ids["param"]] = joined
            for records in self.pages({**self.stream, "parent": None, "params": params},
                                      {"ids": joined}):
                found.extend(records)
        return found


class VarsChildren(ChildReader):
    """One read per distinct set of parent ``vars`` (placeholders of the child's path and
    params); parents missing one of them have no children."""

    def children(self, parents: list[dict]) -> list[dict]:
        variables_of = self.parent.get("vars") or {}
        seen: set = set()
        found: list[dict] = []
        child_stream = {**self.stream, "parent": None}
        for record in parents:
            variables = {k: record.get(v) for k, v in variables_of.items()}
            key = tuple(sorted(variables.items(), key=lambda kv: kv[0]))
            if key in seen or any(v is None for v in variables.values()):
                continue
            seen.add(key)
            extra = self.extra(record)
            for records in self.pages(child_stream, variables):
                found.extend([{**r, **extra} for r in records] if extra else records)
        return found


def child_reader_for(source: StreamSource, stream: dict, *, cursor: Any,
                     window: tuple | None) -> ChildReader:
    parent = stream["parent"]
    cls = EmbeddedChildren if parent.get("embedded") else \
        IdsChildren if parent.get("ids") else VarsChildren
    return cls(source, stream, cursor=cursor, window=window)


def read_child(source: StreamSource, stream: dict, *, cursor: Any, window: tuple | None
               ) -> Iterator[Batch]:
    """The batches of a child stream (see the module docstring for its checkpoints)."""
    parent = stream["parent"]
    reader = child_reader_for(source, stream, cursor=cursor, window=window)
    follows_parent = not (parent.get("full") or reader.own)
    parent_batches = source.read_stream(
        source.stream_for(parent["stream"]), cursor=cursor if follows_parent else None,
        window=window if follows_parent else None, entity_config={})
    if not reader.own:
        for batch in parent_batches:
            # An empty parent batch is the parent's checkpoint: the child's too.
            children = reader.children(batch.records) if batch.records else []
            yield Batch(records=children, cursor=batch.cursor)
        return
    yield from _own_cursor_batches(reader, parent_batches, stream, cursor)


def _own_cursor_batches(reader: ChildReader, parent_batches: Iterator[Batch], stream: dict,
                        cursor: Any) -> Iterator[Batch]:
    cursor_field = stream.get("cursor_field")
    reached = cursor
    for batch in parent_batches:
        if not batch.records:
            reached = later(reached, batch.cursor)
            yield Batch(records=[], cursor=batch.cursor)
            continue
        children = reader.children(batch.records)
        if cursor_field and cursor is not None and stream.get("client_filter"):
            floor = cursor_key(cursor)
            children = [r for r in children if r.get(cursor_field) is None
                        or cursor_key(r.get(cursor_field)) > floor]
        if cursor_field and children:
            reached = later(reached, latest([r.get(cursor_field) for r in children]))
        if children:
            yield Batch(records=children, cursor=cursor)
    if reached != cursor:
        yield Batch(records=[], cursor=reached)
