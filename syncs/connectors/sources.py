"""What a source connector is (``Source``, ``Batch``, the exceptions) and the registry of the
installed ones (``register_source``, ``open_source``). The connector modules import this
module, not the package, whose ``load_builtin_connectors`` imports them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol


class CheckFailed(Exception):
    """The connection check failed; the message says why, for the user."""


class ConnectorUnavailable(Exception):
    """No connector is installed for this provider in this build."""


@dataclass
class Batch:
    records: list[dict]
    cursor: Any = None          # the cursor reached after this batch (JSON-serializable)
    meta: dict = field(default_factory=dict)


class Source(Protocol):
    def check(self) -> None: ...

    def read(self, entity: str, *, cursor: Any = None, window: tuple | None = None,
             entity_config: dict | None = None) -> Iterator[Batch]: ...


SourceFactory = Callable[[dict, dict], Source]  # (config, secrets) -> Source
# Called with the credentials a source was given anew by the service it reads (a single-use
# refresh token replaced at each login): the old ones no longer work, so they must be stored.
SecretsListener = Callable[[dict], None]
# Wraps each login (token exchange) of a source: serialises the logins of one connection and
# yields its current stored secrets (or None), so a rotated credential is never used twice.
LoginGuard = Callable[[], AbstractContextManager[dict | None]]
_factories: dict[str, SourceFactory] = {}


def register_source(provider: str) -> Callable[[SourceFactory], SourceFactory]:
    def register(factory: SourceFactory) -> SourceFactory:
        _factories[provider] = factory
        return factory

    return register


def open_source(provider: str, config: dict, secrets: dict, *,
                on_secrets_rotated: SecretsListener | None = None,
                login_guard: LoginGuard | None = None) -> Source:
    from syncservice import netguard

    # Checked again at run time: a host's address may have changed since it was validated.
    try:
        netguard.check_config(config)
    except netguard.UnsafeDestination as exc:
        raise CheckFailed(str(exc)) from None
    factory = _factories.get(provider)
    if factory is None:
        raise ConnectorUnavailable(
            f"The {provider} connector is not available on this server yet; its catalog is, "
            "so syncs can be configured, but runs fail until the connector is installed.")
    source = factory(config, secrets)
    if on_secrets_rotated is not None:
        source.on_secrets_rotated = on_secrets_rotated
    if login_guard is not None:
        source.login_guard = login_guard
    return source


def available_connectors() -> list[str]:
    return sorted(_factories)
