"""Source connectors: per provider, ``check()`` and ``read(entity, cursor)`` yielding batches of
records with the cursor reached after each batch. The catalog (syncs.providers) describes the
providers; this registry (``syncs.connectors.sources``) holds the code that talks to them."""

from syncs.connectors.sources import (  # noqa: F401 - the package's names
    BUILTIN_SOURCES,
    Batch,
    CheckDeadline,
    CheckFailed,
    CheckTimedOut,
    ConnectorUnavailable,
    LoginGuard,
    SecretsListener,
    Source,
    SourceFactory,
    available_connectors,
    check_seconds,
    load_builtin_connectors,
    open_source,
    register_source,
    register_source_module,
)
