"""What the SaaS providers' sources share: config validation against the catalog, streams built
from the catalog's resources, the clear messages of ``check()``, and their registration
(``@registered``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from syncs.connectors.http_api import HttpApiSource, SourceError, UnsupportedEntity
from syncs.connectors.sources import Batch, CheckFailed, register_source
from syncs.providers import base as catalog


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

    def __init__(self, config: dict, secrets: dict) -> None:
        self.spec = catalog.get_provider(self.provider)
        self.settings = effective_config(self.provider, config, secrets)
        self.secrets = dict(secrets or {})
        super().__init__(self.engine_config(self.settings), secrets)

    # --- for the presets ----------------------------------------------------------------------
    def engine_config(self, settings: dict) -> dict:
        raise NotImplementedError

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

    def read(self, entity: str, *, cursor: Any = None, window: tuple | None = None,
             entity_config: dict | None = None) -> Iterator[Batch]:
        yield from self.guarded(super().read(entity, cursor=cursor, window=window,
                                             entity_config=entity_config))

    def guarded(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        """``batches``, with any unexpected error re-raised as a ``SourceError`` whose message
        has no secret in it."""
        try:
            yield from batches
        except SourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - never let a secret escape in a message
            raise SourceError(self.redact(f"{type(exc).__name__}: {exc}")) from None

    def check(self) -> None:
        try:
            super().check()
        except CheckFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - a check reports, without secrets
            raise CheckFailed(self.redact(f"{self.service} check failed: "
                                          f"{type(exc).__name__}: {exc}")) from None


S = TypeVar("S", bound=SaasSource)


def registered(cls: type[S]) -> type[S]:
    """Register ``cls`` as the source of its ``provider`` (a source class is its own factory:
    ``cls(config, secrets)``)."""
    register_source(cls.provider)(cls)
    return cls


def first_run_start(settings: dict) -> str | None:
    return settings.get("start_date") or None
