"""What the SaaS providers' sources share: config validation against the catalog, streams built
from the catalog's resources, the clear messages of ``check()``, their registration (a
subclass naming its ``provider``), and the reading of a change feed checkpointed on the
service's own opaque position (``read_change_feed``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from syncs.connectors.http_api import (
    HttpApiSource,
    SourceError,
    UnsupportedEntity,
    cursor_key,
    parse_instant,
)
from syncs.connectors.sources import Batch, CheckDeadline, CheckFailed, register_source
from syncs.providers import base as catalog

logger = logging.getLogger("syncs.providers")


class InvalidConfig(CheckFailed):
    """The connection's config or secrets do not match the provider's catalog schemas."""


def _problems(errors: list[tuple[str, str]]) -> str:
    return "; ".join(f"{pointer or '/'} {message}" for pointer, message in errors[:5])


def effective_config(provider: str, config: dict, secrets: dict) -> dict:
    """``config`` over the provider's defaults, validated (config and secrets) against the
    catalog; raises ``InvalidConfig`` (messages never quote the values)."""
    spec = catalog.get_provider(provider)
    merged = spec.with_defaults(config or {})
    errors = catalog.validate_config(spec, merged)
    if errors:
        raise InvalidConfig(f"The {spec.display_name} connection config is invalid: "
                            f"{_problems(errors)}.")
    errors = catalog.validate_secrets(spec, secrets or {})
    if errors:
        raise InvalidConfig(f"The {spec.display_name} secrets are invalid: "
                            f"{_problems(errors)}.")
    return merged


class SaasSource(HttpApiSource):
    """A provider preset: ``engine_config(settings)`` maps the connection's config (validated,
    with the catalog's defaults) onto the http_api engine."""

    provider = ""

    def __init_subclass__(cls, *, provider: str = "", service: str = "",
                          credential_noun: str = "", credential_hint: str = "") -> None:
        """``class X(SaasSource, provider=..., service=..., credential_noun=...,
        credential_hint=...)``: a subclass naming its provider is that provider's source (a
        source class is its own factory, ``cls(config, secrets)``); the texts name the service
        and its credentials in messages (``HttpApiSource``)."""
        super().__init_subclass__()
        texts = {"service": service, "credential_noun": credential_noun,
                 "credential_hint": credential_hint}
        for name, text in texts.items():
            if text:
                setattr(cls, name, text)
        if provider:
            cls.provider = provider
            register_source(provider)(cls)

    def __init__(self, config: dict, secrets: dict) -> None:
        self.spec = catalog.get_provider(self.provider)
        self.settings = effective_config(self.provider, config, secrets)
        self.secrets = dict(secrets or {})
        super().__init__(self.engine_config(self.settings), secrets)

    # --- for the presets ----------------------------------------------------------------------
    def engine_config(self, settings: dict) -> dict:
        raise NotImplementedError

    def engine(self, host: str, auth: dict, streams: list[dict], *, max_retries: int = 5,
               **options: Any) -> dict:
        """The engine config of a preset: its API ``host`` (unless the connection's config
        overrides it with ``base_url``), ``auth``, ``streams`` and the other engine keys
        (``pagination``, ``check``, ``headers``...); SaaS APIs get 5 retries."""
        return {"base_url": self.settings.get("base_url") or host, "auth": auth,
                "max_retries": max_retries, **options, "streams": streams}

    def stream(self, entity_key: str, **options: Any) -> dict:
        """An engine stream for a catalog resource: its primary key and cursor field."""
        resource = self.spec.get_resource(entity_key)
        stream = {"name": entity_key,
                  "primary_key": list(resource.primary_key) if resource else [],
                  "cursor_field": resource.cursor_field if resource else None}
        stream.update(options)
        return stream

    def unsupported(self, entity_key: str, why: str) -> dict:
        return {"name": entity_key, "unsupported": f"The {self.service} connector cannot read "
                                                   f"{entity_key!r}: {why}"}

    def placeholders(self, extra: dict | None = None) -> dict:
        values = {k: v for k, v in self.settings.items()
                  if isinstance(v, (str, int, float, list))}
        return super().placeholders({**values, **(extra or {})})

    def stream_for(self, entity: str) -> dict:
        if entity not in self.streams:
            known = sorted(self.spec.available_resources)
            raise UnsupportedEntity(f"{self.service} has no entity {entity!r}; entities: "
                                    f"{', '.join(known)}.")
        return super().stream_for(entity)

    def change_feed(self, entity: str) -> ChangeFeed | None:
        """Hook: the change feed ``entity`` is read from, checkpointed on the feed's own
        position (``read_change_feed``); None (the default): the engine's stream."""
        return None

    def read(self, entity: str, *, cursor: Any = None, window: tuple | None = None,
             entity_config: dict | None = None) -> Iterator[Batch]:
        feed = self.change_feed(entity)
        if feed is None:
            batches = super().read(entity, cursor=cursor, window=window,
                                   entity_config=entity_config)
        else:
            batches = read_change_feed(feed.pages, cursor, resumes=feed.resumes,
                                       cursor_field=self.stream_for(entity)["cursor_field"],
                                       start_date=first_run_start(self.settings))
        yield from self.guarded(batches)

    def guarded(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        """``batches``, with any unexpected error re-raised as a ``SourceError`` whose message
        has no secret in it."""
        try:
            yield from batches
        except SourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - never let a secret escape in a message
            raise SourceError(self.redact(f"{type(exc).__name__}: {exc}")) from None

    def check(self, deadline: CheckDeadline | None = None) -> None:
        try:
            super().check(deadline)
        except CheckFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - a check reports, without secrets
            raise CheckFailed(self.redact(f"{self.service} check failed: "
                                          f"{type(exc).__name__}: {exc}")) from None


def first_run_start(settings: dict) -> str | None:
    return settings.get("start_date") or None


# --- change feeds -----------------------------------------------------------------------------

class CursorExpired(SourceError):
    """The service no longer accepts a saved feed position (Graph's 410 Gone, Dropbox's
    ``reset``): the feed is read again from the start."""


@dataclass(frozen=True)
class ChangeFeed:
    """An entity read from a change feed: ``pages(position)`` reads the feed from a position
    (None: from the start, the whole listing), yielding each page's records with the position
    to continue from after it (the last one's is where the next run starts: any JSON-able
    value, e.g. a link with state the provider needs to read on); ``resumes(cursor)`` tells a
    saved position from other checkpoints."""

    pages: Callable[[Any], Iterator[tuple[list[dict], Any]]]
    resumes: Callable[[Any], bool]


def read_change_feed(pages: Callable[[Any], Iterator[tuple[list[dict], Any]]],
                     cursor: Any, *, resumes: Callable[[Any], bool], cursor_field: str,
                     start_date: str | None = None) -> Iterator[Batch]:
    """The batches of a change feed whose checkpoint is the service's position.

    A ``cursor`` the feed ``resumes`` from (the position saved by the last run) reads only the
    changes since. Without one the whole listing is read: on a first run only the records at
    or after ``start_date``; after a checkpoint an older version saved (an instant of
    ``cursor_field``) only the records past it. The position reached is checkpointed by a last
    batch once the feed is read to its end; the batches before keep ``cursor``, so a run
    stopped midway reads again from where it started (the upserts make that harmless). A saved
    position the service refuses (``CursorExpired``) starts over with the whole listing, every
    record written."""
    position = cursor if cursor is not None and resumes(cursor) else None
    floor, inclusive = None, False
    if position is None:
        if cursor is None:
            floor, inclusive = start_date, True
        elif parse_instant(cursor) is not None:
            floor = cursor
    try:
        yield from _feed_batches(pages(position), cursor, cursor_field, floor, inclusive)
    except CursorExpired as expired:
        if position is None:
            raise
        logger.warning("%s; reading the whole listing again", expired)
        yield from _feed_batches(pages(None), cursor, cursor_field, None, False)


def _feed_batches(pages: Iterator[tuple[list[dict], Any]], cursor: Any, cursor_field: str,
                  floor: Any, inclusive: bool) -> Iterator[Batch]:
    reached = None
    for records, position in pages:
        reached = position
        if floor is not None:
            records = [r for r in records if _past(r.get(cursor_field), floor, inclusive)]
        if records:
            yield Batch(records=records, cursor=cursor)
    if reached is None:
        raise SourceError("The change feed ended without a position to continue from.")
    yield Batch(records=[], cursor=reached)


def _past(value: Any, floor: Any, inclusive: bool) -> bool:
    """A record without the cursor field (a deletion) is always kept."""
    if value is None:
        return True
    return cursor_key(value) > cursor_key(floor) or (
        inclusive and cursor_key(value) == cursor_key(floor))
