"""SaaS provider presets on the http_api engine: one module per provider, each registering a
source for its catalog key (``syncs.providers.<key>``) that maps the connection's config and
secrets onto the engine (base URL, overridable with ``base_url``; auth; pagination; per-entity
paths, record selectors, primary keys and cursors). Each module is imported when a source of
its provider is first opened (``syncs.connectors.BUILTIN_SOURCES``)."""
