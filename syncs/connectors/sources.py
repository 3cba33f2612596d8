"""What a source connector is (``Source``, ``Batch``, the exceptions) and the registry of the
installed ones (``register_source``, ``open_source``). The connector modules import this
module, not the package.

A connector module registers its source with ``@register_source(provider)`` when imported.
The built-in ones are known by dotted path (``BUILTIN_SOURCES``) and imported when a source
of their provider is first opened: a process that never opens one (a worker running other
jobs, the scheduler) starts without the HTTP engine and the SaaS providers (whose modules in
``syncs.providers`` hold their catalog spec and their source)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Protocol


class CheckFailed(Exception):
    """The connection check failed; the message says why, for the user."""


class CheckTimedOut(CheckFailed):
    """The source did not answer within the check's time (``CheckDeadline``)."""


def check_seconds() -> float:
    """How long a connection check may take in all (``SYNCS_CHECK_SECONDS``): it answers an
    API request."""
    from django.conf import settings

    return float(getattr(settings, "SYNCS_CHECK_SECONDS", 8.0))


@dataclass(frozen=True)
class CheckDeadline:
    """When a connection check must have answered: ``check_connection`` starts one and hands
    it to ``Source.check``, whose every wait (a connect, a login, a request, its retries) is
    bounded by what is left, each library's own (longer) timeout still bounding it too. Runs
    have no deadline: they keep their own timeouts."""

    seconds: float  # the whole budget, for messages
    at: float       # time.monotonic() when it is spent

    @classmethod
    def start(cls, seconds: float | None = None) -> CheckDeadline:
        seconds = check_seconds() if seconds is None else float(seconds)
        return cls(seconds=seconds, at=time.monotonic() + seconds)

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        # A little slack: a library's timeout may fire a hair before the deadline it was
        # computed from.
        return self.left() <= 0.05

    def timeout(self, cap: float | None = None, *, what: str = "The source") -> float:
        """What is left (at most ``cap``, a configured timeout); ``CheckTimedOut`` naming
        ``what`` when nothing is."""
        if self.expired():
            raise self.exceeded(what)
        left = self.left()
        return left if cap is None or cap <= 0 else min(cap, left)

    def whole_seconds(self, cap: float | None = None, *, minimum: int = 1,
                      what: str = "The source") -> int:
        """``timeout`` in whole seconds, rounded up (drivers taking an int), at least
        ``minimum``: such a timeout may end up to a second past the deadline."""
        return max(minimum, math.ceil(self.timeout(cap, what=what)))

    def exceeded(self, what: str, detail: object = None) -> CheckTimedOut:
        """The failure of a check whose source (``what``) did not answer in time."""
        text = str(detail or "").strip().rstrip(".")
        return CheckTimedOut(f"{what} did not answer within {self.seconds:g} s, the time a "
                             f"connection check may take{': ' + text if text else ''}.")


class ConnectorUnavailable(Exception):
    """No connector is installed for this provider in this build."""


@dataclass
class Batch:
    records: list[dict]
    cursor: Any = None          # the cursor reached after this batch (JSON-serializable)
    meta: dict = field(default_factory=dict)


class Source(Protocol):
    def check(self, deadline: CheckDeadline | None = None) -> None:
        """Raise ``CheckFailed`` (why, for the user) unless the source answers, and answer by
        ``deadline`` (``CheckTimedOut`` past it); ``None``: a new one of
        ``SYNCS_CHECK_SECONDS``."""
        ...

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

# The module of each built-in connector, by provider: importing it registers the source. A SaaS
# provider's source lives in its catalog module, beside its spec.
_SAAS_PRESETS = ("amazon_sp", "bullhorn", "dropbox", "flexiroam", "gmail_inbox", "google_drive",
                 "gorgias", "klaviyo", "msft_sharepoint", "netsuite", "redo", "rydership",
                 "salesforce", "shopify", "starlink")
BUILTIN_SOURCES: dict[str, str] = {
    "http_api": "syncs.connectors.http_api",
    "postgres": "syncs.connectors.sql",
    "sqlserver": "syncs.connectors.sql",
    "s3": "syncs.connectors.files",
    "sftp": "syncs.connectors.files",
    "mlflow": "syncs.connectors.mlflow",
    **{provider: f"syncs.providers.{provider}" for provider in _SAAS_PRESETS},
}
_source_modules: dict[str, str] = {}


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
    factory = _factory(provider)
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


def _factory(provider: str) -> SourceFactory | None:
    factory = _factories.get(provider)
    module = _source_modules.get(provider)
    if factory is None and module is not None:
        import_module(module)  # registers it; an import error is the server's, and says so
        factory = _factories.get(provider)
        if factory is None:
            raise ImportError(f"{module} registers no source for provider {provider!r}")
    return factory


def available_connectors() -> list[str]:
    return sorted(set(_factories) | set(_source_modules))


def register_source_module(provider: str, module: str) -> None:
    """Make ``module`` the one whose import registers ``provider``'s source: imported when a
    source of the provider is first opened."""
    _source_modules[provider] = module


def load_builtin_connectors() -> None:
    """Register where each built-in connector lives (imported on first use)."""
    for provider, module in BUILTIN_SOURCES.items():
        register_source_module(provider, module)
