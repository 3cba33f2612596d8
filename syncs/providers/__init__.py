"""The provider catalog: one module per provider, each registering its ``ProviderSpec``.

Importing this package registers all 21 providers of the syncs reference; ``base`` holds the
data classes, the registry and config/secrets validation. A SaaS provider's module also holds
its source (``@registered``), built on the shared builders of ``_saas`` and ``_google``
and the http_api engine: so importing the catalog imports the engine, and neither is imported
before first use (``syncs.connectors.BUILTIN_SOURCES``; tests/test_startup.py). The other
providers' sources are the shared SQL, file and MLflow engines of ``syncs.connectors``.
"""

# One module per provider, in the reference's order; importing registers the spec.
from syncs.providers import (  # noqa: E402, F401, I001
    amazon_sp,
    bullhorn,
    dropbox,
    flexiroam,
    gmail_inbox,
    google_drive,
    gorgias,
    http_api,
    klaviyo,
    mlflow,
    msft_sharepoint,
    netsuite,
    postgres,
    redo,
    rydership,
    s3,
    salesforce,
    sftp,
    shopify,
    sqlserver,
    starlink,
)
from syncs.providers.base import (
    LOAD_MODES,
    PROVIDER_KEYS,
    SIZE_CLASSES,
    STORAGE_KINDS,
    ProviderSpec,
    ResourceSpec,
    all_providers,
    get_provider,
    provider_keys,
    register,
    validate_config,
    validate_resource_config,
    validate_secrets,
)

__all__ = [
    "LOAD_MODES", "PROVIDER_KEYS", "SIZE_CLASSES", "STORAGE_KINDS", "ProviderSpec",
    "ResourceSpec", "all_providers", "get_provider", "provider_keys", "register",
    "validate_config", "validate_resource_config", "validate_secrets",
]
