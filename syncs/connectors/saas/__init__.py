"""SaaS provider presets on the http_api engine: one module per provider, each registering a
source for its catalog key (``syncs.providers.<key>``) that maps the connection's config and
secrets onto the engine (base URL, overridable with ``base_url``; auth; pagination; per-entity
paths, record selectors, primary keys and cursors). Importing this package registers them
all."""

from syncs.connectors.saas import (  # noqa: F401
    amazon_sp,
    bullhorn,
    dropbox,
    flexiroam,
    gmail_inbox,
    google_drive,
    gorgias,
    klaviyo,
    msft_sharepoint,
    netsuite,
    redo,
    rydership,
    salesforce,
    shopify,
    starlink,
)
