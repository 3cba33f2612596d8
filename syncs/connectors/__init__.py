"""Source connectors: per provider, ``check()`` and ``read(entity, cursor)`` yielding batches of
records with the cursor reached after each batch. The catalog (syncs.providers) describes the
providers; this registry holds the code that talks to them."""

from syncs.connectors.sources import (  # noqa: F401 - the package's names
    Batch,
    CheckFailed,
    ConnectorUnavailable,
    LoginGuard,
    SecretsListener,
    Source,
    SourceFactory,
    available_connectors,
    open_source,
    register_source,
)


def load_builtin_connectors() -> None:
    import syncs.connectors.saas  # noqa: F401
    from syncs.connectors import files, http_api, mlflow, sql  # noqa: F401
