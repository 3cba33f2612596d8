"""drf-spectacular hooks."""

from __future__ import annotations


def preprocess_endpoints(endpoints):
    """Paths as the API writes them: the routers accept an optional trailing slash
    (``/?$``), drf-spectacular would document it as a mandatory one."""
    result = []
    for path, path_regex, method, callback in endpoints:
        if path_regex.endswith("/?$") and path.endswith("/") and path != "/":
            path = path[:-1]
        result.append((path, path_regex, method, callback))
    return result


TAGS = {
    "projects": "The caller's projects (created by operators in the admin).",
    "jobs": "The job queue.",
    "exports": "Exports of data sets as files.",
    "connections": "Source connections (their secrets are write-only).",
    "syncs": "Syncs: what to import from a connection, and when.",
    "sync-runs": "Runs of syncs, their attempts and chains.",
    "table-bindings": "One entity of a sync bound to its warehouse table (writes are the "
                      "sync's own update).",
    "providers": "The catalog of source providers.",
    "operations": "JSON:API Atomic Operations: several writes in one transaction "
                  '(`Content-Type: application/vnd.api+json; ext="https://jsonapi.org/ext/atomic"`).',
    "events": "What runs, exports and jobs did: their lifecycle, oldest first.",
    "openapi": "This description of the API.",
}


def _strip_internal_keys(node):
    if isinstance(node, dict):
        node.pop("x-spec-enum-id", None)
        for value in node.values():
            _strip_internal_keys(value)
    elif isinstance(node, list):
        for value in node:
            _strip_internal_keys(value)


def postprocess_schema(result, generator, request, public):
    """Tag descriptions, in the order of the API's resources; no drf-spectacular internals
    (``x-spec-enum-id``: enums stay inline)."""
    _strip_internal_keys(result)
    used = {tag for path in result.get("paths", {}).values() for operation in path.values()
            for tag in operation.get("tags", ())}
    ordered = [name for name in TAGS if name in used] + sorted(used - set(TAGS))
    result["tags"] = [{"name": name, **({"description": TAGS[name]} if name in TAGS else {})}
                      for name in ordered]
    return result
