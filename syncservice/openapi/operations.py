"""What the views do not tell by themselves: per view and action, the success status, the
response (when it is not a document of the view's ``serializer_class``), extra error statuses,
the query parameters outside the grammar, required attributes and request relationships.

Views are found through their MRO by dotted path, so subclasses inherit their entries. A
``JsonApiViewSet`` action missing here gets the defaults (list: 200 collection; retrieve: 200;
create: 201; partial_update: 200; destroy: 204; other actions: 200 with the view's resource).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from syncservice.jsonapi import MEDIA_TYPE
from syncservice.openapi import documents

Schema = dict[str, Any]


@dataclass(frozen=True)
class OperationSpec:
    status: int | None = None
    # A serializer class whose resource is the primary data (default: view.serializer_class).
    response_serializer: Any = None
    # A callable(auto_schema) -> {status: response object} replacing the success response.
    responses: Callable[[Any], dict[str, Schema]] | None = None
    errors: tuple[int, ...] = ()
    # Whether the JSON:API query grammar applies (and so 400 can happen on any parameter).
    grammar: bool = True
    # Default error statuses (401 and friends) of an authenticated JSON:API endpoint.
    authenticated: bool = True
    parameters: tuple[Schema, ...] = ()
    required_attributes: tuple[str, ...] = ()
    relationships: Schema | None = None
    operation_id: str | None = None
    tags: tuple[str, ...] = ()
    # The attributes (and relationships) of an example request document.
    example: Schema | None = None
    # OpenAPI links of the success response (name -> link object): where its ids lead.
    links: Callable[[], dict[str, Schema]] | None = None
    # Keywords added to the request document's resource object (rules across members).
    data_rules: Schema | None = None
    # What the operation's description adds (rules the schema cannot express).
    notes: str = ""
    # A callable(auto_schema) -> request body object, for views whose body is not a resource
    # document of their serializer (the Atomic Operations extension).
    request_body: Callable[[Any], Schema] | None = None


def query_parameter(name: str, schema: Schema, description: str, *,
                    required: bool = False, comma_list: bool = False) -> Schema:
    parameter = {"in": "query", "name": name, "schema": schema, "description": description}
    if required:
        parameter["required"] = True
    if comma_list:
        parameter["style"] = "form"
        parameter["explode"] = False
    return parameter


def _comma_items(items: Schema, **bounds: int) -> Schema:
    return {"type": "array", "items": items, "minItems": bounds.get("min_items", 1)}


def _data_response(description: str, schema_name: str, schema: Callable[[], Schema]):
    def build(auto_schema) -> dict[str, Schema]:
        ref = auto_schema.register_schema(schema_name, schema())
        return {"200": {"description": description, "content": {MEDIA_TYPE: {"schema": ref}}}}

    return build


# --- links: what a created resource's id leads to (clients and stateful fuzzing follow them) --

def _link(operation_id: str, description: str, pointer: str = "/data/id",
          parameter: str = "id", body: Schema | None = None) -> Schema:
    link: Schema = {"operationId": operation_id, "description": description,
                    "parameters": {parameter: f"$response.body#{pointer}"}}
    if body is not None:
        link["requestBody"] = body
    return link


def _update_body(type_name: str) -> Schema:
    """A PATCH document names the id of its path."""
    return {"data": {"type": type_name, "id": "$response.body#/data/id"}}


def _job_links(pointer: str) -> dict[str, Schema]:
    return {"GetJob": _link("jobs_retrieve", "The job doing the work.", pointer),
            "SignalJob": _link("jobs_signal", "Cancel, retry or run the job now.", pointer)}


def _connection_links() -> dict[str, Schema]:
    return {
        "GetConnection": _link("connections_retrieve", "The connection."),
        "UpdateConnection": _link("connections_partial_update", "Change the connection.",
                                  body=_update_body("connections")),
        "CheckConnection": _link("connections_check", "Check the connection."),
        "CreateSync": {
            "operationId": "syncs_create", "description": "An active sync of this connection.",
            "requestBody": {"data": {"type": "syncs", "attributes": {"status": "active"},
                                     "relationships": {"connection": {"data": {
                                         "type": "connections",
                                         "id": "$response.body#/data/id"}}}}}},
        "DeleteConnection": _link("connections_destroy", "Delete the connection."),
    }


def _sync_links() -> dict[str, Schema]:
    return {
        "GetSync": _link("syncs_retrieve", "The sync."),
        "UpdateSync": _link("syncs_partial_update", "Change the sync.",
                            body=_update_body("syncs")),
        "TriggerSync": _link("syncs_trigger", "Start a run of the sync."),
        "ListRuns": _link("syncs_sync_pk_runs_list", "The sync's runs.", parameter="sync_pk"),
        "GetConnection": _link("connections_retrieve", "The sync's connection.",
                               "/data/relationships/connection/data/id"),
        "ArchiveSync": _link("syncs_destroy", "Archive the sync."),
    }


def _run_links() -> dict[str, Schema]:
    return {
        "GetRun": _link("syncs_runs_retrieve", "The run."),
        "GetSyncRun": _link("sync_runs_retrieve", "The run, in the sync-runs collection."),
        "CancelRun": _link("syncs_runs_cancel", "Cancel the run."),
        "RetryRun": _link("syncs_runs_retry", "A next attempt of the run (once it failed or "
                                              "was cancelled)."),
        "GetSync": _link("syncs_retrieve", "The run's sync.", "/data/relationships/sync/data/id"),
        **_job_links("/data/relationships/job/data/id"),
    }


def _export_links() -> dict[str, Schema]:
    return {
        "GetExport": _link("exports_retrieve", "The export (poll until `success`)."),
        "DownloadExport": _link("exports_download", "Its file, once the export succeeded."),
        "DeleteExport": _link("exports_destroy", "Delete the export and its files."),
        **_job_links("/data/relationships/job/data/id"),
    }


# --- exports ---------------------------------------------------------------------------------

def _download_responses(auto_schema) -> dict[str, Schema]:
    from exports.formats import FORMATS, GZIP_MIME_TYPE

    mime_types = sorted({f.mime_type for f in FORMATS.values()} | {GZIP_MIME_TYPE})
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        "200": {
            "description": "The file, as an attachment (local storage).",
            "headers": {
                "Content-Disposition": {"schema": {"type": "string"}},
                "X-Checksum-SHA256": {"schema": {"type": "string"},
                                      "description": "SHA-256 of the file, hex."},
            },
            "content": {mime: binary for mime in mime_types},
        },
        "302": {
            "description": "A redirect to a signed, expiring URL (object storage).",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
    }


def _export_format_resource() -> Schema:
    from exports.formats import MODALITIES

    attributes = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "mime_type": {"type": "string"},
            "extension": {"type": "string"},
            "modalities": {"type": "array",
                           "items": {"type": "string", "enum": sorted(MODALITIES)}},
            "available": {"type": "boolean",
                          "description": "False when the format's optional package is missing "
                                         "(exports in it are then refused with 422)."},
            "notes": {"type": "string"},
            "compressible": {"type": "boolean"},
        },
        "additionalProperties": False,
    }
    return documents.resource_object("export-formats", attributes, None)


def _modalities_parameter() -> Schema:
    from exports.formats import MODALITIES

    return query_parameter(
        "modalities", _comma_items({"type": "string", "enum": sorted(MODALITIES)}),
        "The data modalities the formats must support (comma list).",
        required=True, comma_list=True)


# --- syncs -----------------------------------------------------------------------------------

def _provider_keys() -> list[str]:
    from syncs.providers import base as catalog

    return list(catalog.provider_keys())


def _provider_resource() -> Schema:
    attributes = {
        "type": "object",
        "properties": {
            "display_name": {"type": "string"},
            "description": {"type": "string"},
            "dynamic_resources": {"type": "boolean"},
            "available_resources": {"type": "array", "items": {"type": "string"}},
            "default_resources": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": False,
    }
    resource = documents.resource_object("providers", attributes, None)
    resource["properties"]["links"] = {"type": "object",
                                       "properties": {"catalog": documents.LINK},
                                       "additionalProperties": documents.LINK}
    return resource


def _provider_catalog_resource() -> Schema:
    attributes = {
        "type": "object",
        "properties": {
            "provider": {"type": "string"},
            "name": {"type": "string"},
            "display_name": {"type": "string"},
            "description": {"type": "string"},
            "config_schema": {"type": "object",
                              "description": "JSON Schema of the connection's `config`."},
            "secrets_schema": {"type": "object",
                               "description": "JSON Schema of the connection's `secrets`."},
            "defaults": {"type": "object"},
            "resources": {"type": "array", "items": {"type": "object"}},
            "available_resources": {"type": "array", "items": {"type": "string"}},
            "default_resources": {"type": "array", "items": {"type": "string"}},
            "dynamic_resources": {"type": "boolean"},
        },
    }
    return documents.resource_object("provider-catalogs", attributes, None)


def _sync_list_parameters() -> tuple[Schema, ...]:
    from syncs.models import PROVIDERS, Sync

    return (
        query_parameter("q", {"type": "string", "minLength": 1,
                              "pattern": r"^[^\x00]*[^\s\x00][^\x00]*$"},
                        "Search in name and slug (same as `filter[q]`)."),
        query_parameter("status", _comma_items({"type": "string",
                                                "enum": [c for c, _ in Sync.Status.choices]}),
                        "Compatibility form of `filter[status__in]`.", comma_list=True),
        query_parameter("provider", _comma_items({"type": "string", "enum": list(PROVIDERS)}),
                        "Compatibility form of `filter[provider__in]`.", comma_list=True),
    )


# A sync's connection: the relationship, or the reference's `connection_id` attribute.
SYNC_NEEDS_A_CONNECTION: Schema = {"anyOf": [
    {"required": ["relationships"],
     "properties": {"relationships": {"required": ["connection"]}}},
    {"required": ["attributes"], "properties": {"attributes": {"required": ["connection_id"]}}},
]}

SYNC_PROVIDER_OPTIONS = (
    "`source_config` (and each table binding's options) take the options of the sync's "
    "connection's provider (`GET /api/v1/syncs/providers/{provider}/catalog`): the document "
    "alone cannot say which provider that is, so another provider's options are a 422 "
    "naming the member.")

SYNC_ARCHIVED = ("Deleting a sync archives it: it stays readable, with `status` `archived`, "
                 "and so do its runs (a later GET answers 200, not 404).")

# Two pagination families (syncservice.jsonapi.pagination): OpenAPI 3.0 cannot say that a
# parameter excludes another, so the operation says it.
PAGINATION_FAMILIES = (
    "`limit`/`offset` and `page[number]`/`page[size]` are two pagination families: "
    "parameters of both in one request are a 400 naming the later one (and so are either's "
    "together with a cursor's, `page[after]`/`page[before]`).")
EXPORT_NAMES = (
    "`resource_type` names an exportable resource: `jobs`, `exports`, `projects`, or the "
    "logical name of a table the project's syncs load (which ones exist depends on the "
    "project); `fields`, `includes` and `filters` use that resource's names. Other names are "
    "a 422 naming the member.")


def _connection_relationship() -> Schema:
    return {"type": "object",
            "properties": {"connection": documents.to_one_request_relationship("connections")}}


def _sync_relationship() -> Schema:
    return {"type": "object", "required": ["sync"],
            "properties": {"sync": documents.to_one_request_relationship("syncs")}}


# --- the schema endpoints --------------------------------------------------------------------

def _schema_responses(auto_schema) -> dict[str, Schema]:
    schema = {"schema": {"type": "object", "description": "An OpenAPI 3 document."}}
    return {"200": {"description": "This OpenAPI document, in YAML (default) or JSON.",
                    "content": {"application/vnd.oai.openapi": schema,
                                "application/yaml": schema,
                                "application/vnd.oai.openapi+json": schema,
                                "application/json": schema}}}


def _docs_responses(auto_schema) -> dict[str, Schema]:
    return {"200": {"description": "Swagger UI (its assets are served from /static/).",
                    "content": {"text/html": {"schema": {"type": "string"}}}}}


def _schema_parameters() -> tuple[Schema, ...]:
    return (query_parameter("format", {"type": "string", "enum": ["json", "yaml"]},
                            "The format of the document (else chosen by `Accept`)."),)


# --- the Atomic Operations extension -----------------------------------------------------------

def _atomic_operation() -> Schema:
    from syncservice.jsonapi.operations import MAX_OPERATIONS, registered_types

    types = sorted(registered_types())
    identifier = {
        "type": "object", "required": ["type"], "additionalProperties": False,
        "properties": {"type": {"type": "string", "enum": types},
                       "id": {"type": "string"},
                       "lid": {"type": "string", "minLength": 1,
                               "description": "The `lid` an earlier `add` of this request "
                                              "gave its resource."}},
        "description": "The target: `id`, or the `lid` of a resource added earlier in the "
                       "request."}
    data = {"type": "object", "required": ["type"],
            "properties": {"type": {"type": "string", "enum": types},
                           "id": {"type": "string"},
                           "lid": {"type": "string", "minLength": 1},
                           "attributes": {"type": "object"},
                           "relationships": {"type": "object"},
                           "meta": {"type": "object"}},
            "additionalProperties": False,
            "description": "The resource object the type's own endpoint takes: `POST /<type>` "
                           "for add (with an optional `lid` naming it in later operations), "
                           "`PATCH /<type>/{id}` for update. Relationships may link added "
                           "resources by `lid`."}

    def form(op: str, required: list[str], description: str) -> Schema:
        return {"type": "object", "required": ["op", *required], "additionalProperties": False,
                "properties": {"op": {"type": "string", "enum": [op]}, "ref": identifier,
                               "data": data, "meta": {"type": "object"}},
                "description": description}

    operation = {"oneOf": [
        form("add", ["data"], "add: `data`, the create document's resource object."),
        form("update", ["data"], "update: `data` with `id` (or `lid`), optionally the same "
                                 "`ref`."),
        form("remove", ["ref"], "remove: `ref`."),
    ]}
    return {
        "type": "object", "required": ["atomic:operations"], "additionalProperties": False,
        "properties": {
            "atomic:operations": {"type": "array", "minItems": 1, "maxItems": MAX_OPERATIONS,
                                  "items": operation},
            "jsonapi": documents.JSONAPI_OBJECT, "meta": {"type": "object"},
        },
    }


def _atomic_request(auto_schema) -> Schema:
    from syncservice.jsonapi.operations import ATOMIC_MEDIA_TYPE

    ref = auto_schema.register_schema("AtomicOperationsRequest", _atomic_operation())
    example = {"atomic:operations": [
        {"op": "add", "data": {"type": "connections", "lid": "shop", "attributes": {
            "provider": "http_api", "name": "shop",
            "config": {"base_url": "https://api.example.com/",
                       "streams": [{"name": "orders", "path": "/orders"}]}}}},
        {"op": "add", "data": {"type": "syncs", "attributes": {
            "name": "Orders", "entities": ["orders"]}, "relationships": {
            "connection": {"data": {"type": "connections", "lid": "shop"}}}}}]}
    return {"content": {ATOMIC_MEDIA_TYPE: {"schema": ref, "example": example}},
            "required": True}


def _atomic_responses(auto_schema) -> dict[str, Schema]:
    from syncservice.jsonapi.operations import ATOMIC_MEDIA_TYPE

    result = {"type": "object", "additionalProperties": False,
              "properties": {"data": {"type": "object",
                                      "description": "The resource as its own endpoint "
                                                     "answers it."},
                             "meta": {"type": "object"}},
              "description": "One per operation, in order; `{}` for a remove."}
    schema = {"type": "object", "required": ["atomic:results"], "additionalProperties": False,
              "properties": {"jsonapi": documents.JSONAPI_OBJECT,
                             "atomic:results": {"type": "array", "items": result}}}
    ref = auto_schema.register_schema("AtomicOperationsResponse", schema)
    return {"200": {"description": "Every operation succeeded, in one transaction.",
                    "content": {ATOMIC_MEDIA_TYPE: {"schema": ref}}}}


ATOMIC_RULES = (
    "Each operation's resource object is checked by its type's own endpoint, as a request "
    "there would be: its attributes are a 422 naming the member under "
    "`/atomic:operations/<n>/data`, its state rules a 409, a resource of another project a "
    "404. A `lid` must name a resource added earlier in the same request (else a 400).")

BINDING_ENTITIES = (
    "Which entities a binding may name, and their options, depend on its sync's connection's "
    "provider (`GET /api/v1/syncs/providers/{provider}/catalog`): another entity is a 422 "
    "naming `entity_key`.")

CURSOR_PAGES = (
    "Cursor pages: `page[after]` / `page[before]` take the cursors of this collection's "
    "links; a cursor made up, or made for another sort, is a 400 naming the parameter, and "
    "so is a cursor together with another pagination family's parameters (`page[number]`; "
    "`limit`/`offset` where the collection takes them), naming the later one.")


_EXPORT_EXAMPLE = {"attributes": {"resource_type": "jobs", "format": "csv",
                                  "filters": {"status__in": "failed,succeeded"},
                                  "fields": ["job_class", "status"]}}


def _specs() -> dict[str, dict[str, OperationSpec]]:
    from syncs.api.serializers import SyncRunSerializer

    conflict = (409,)
    return {
        "jobs.api.views.JobViewSet": {
            "destroy": OperationSpec(errors=conflict),
            "signal": OperationSpec(errors=conflict,
                                    example={"attributes": {"signal": "cancel"}},
                                    links=lambda: _job_links("/data/id")),
        },
        "exports.api.views.ExportViewSet": {
            "destroy": OperationSpec(errors=conflict),
            "export": OperationSpec(status=202, errors=conflict, links=_export_links,
                                    notes=EXPORT_NAMES, example=_EXPORT_EXAMPLE),
            "create": OperationSpec(status=202, errors=conflict, links=_export_links,
                                    notes=EXPORT_NAMES, example=_EXPORT_EXAMPLE),
            "download": OperationSpec(
                responses=_download_responses, errors=(409, 410),
                notes="A `file` number past the export's last file is a 400 naming `file`.",
                parameters=(query_parameter("file", {"type": "integer", "minimum": 1},
                                            "Which file of several (1-based)."),)),
            "formats": OperationSpec(
                responses=_data_response(
                    "The export formats supporting the given modalities.",
                    "ExportFormatCollectionDocument",
                    lambda: documents.document(_export_format_resource(), collection=True)),
                parameters=(_modalities_parameter(),)),
        },
        "syncs.api.views.ConnectionViewSet": {
            "create": OperationSpec(required_attributes=("provider", "name"),
                                    links=_connection_links, example={
                "attributes": {
                    "provider": "http_api", "name": "my api",
                    "config": {"base_url": "https://api.example.com/", "auth": {"type": "bearer"},
                               "streams": [{"name": "orders", "path": "/orders",
                                            "primary_key": ["id"], "cursor_field": "updated_at",
                                            "cursor_param": "updated_since"}]},
                    "secrets": {"token": "..."}}}),
            "partial_update": OperationSpec(
                example={"attributes": {"name": "renamed api"}},
                notes="A connection's `provider` never changes: another one is a 422 "
                      "(create another connection)."),
            "destroy": OperationSpec(errors=conflict),
        },
        "syncs.api.views.SyncViewSet": {
            "list": OperationSpec(parameters=_sync_list_parameters(),
                                  notes=PAGINATION_FAMILIES),
            "create": OperationSpec(
                required_attributes=("name",), relationships=_connection_relationship(),
                links=_sync_links, data_rules=SYNC_NEEDS_A_CONNECTION,
                notes=SYNC_PROVIDER_OPTIONS,
                example={"attributes": {"name": "Orders", "entities": ["orders"],
                                        "status": "active"},
                         "relationships": {"connection": {"data": {
                             "type": "connections",
                             "id": "00000000-0000-4000-8000-000000000000"}}}}),
            "partial_update": OperationSpec(relationships=_connection_relationship(),
                                            notes=SYNC_PROVIDER_OPTIONS,
                                            example={"attributes": {"status": "paused"}}),
            "destroy": OperationSpec(errors=conflict, notes=SYNC_ARCHIVED),
            "trigger": OperationSpec(status=202, response_serializer=SyncRunSerializer,
                                     errors=conflict, links=_run_links,
                                     example={"attributes": {"run_mode": "incremental"}}),
        },
        "syncs.api.views.TableBindingViewSet": {
            "create": OperationSpec(
                required_attributes=("entity_key",), relationships=_sync_relationship(),
                data_rules={"required": ["type", "attributes", "relationships"]},
                errors=conflict, notes=BINDING_ENTITIES,
                example={"attributes": {"entity_key": "customers", "load_mode": "upsert",
                                        "primary_key_columns": ["id"]},
                         "relationships": {"sync": {"data": {
                             "type": "syncs", "id": "00000000-0000-4000-8000-000000000000"}}}}),
            "partial_update": OperationSpec(errors=conflict, notes=BINDING_ENTITIES,
                                            example={"attributes": {"load_mode": "append_event"}}),
            "destroy": OperationSpec(errors=conflict),
        },
        "syncs.api.views.SyncRunViewSet": {
            "list": OperationSpec(notes=PAGINATION_FAMILIES),
            "cancel": OperationSpec(errors=conflict, links=_run_links,
                                    example={"attributes": {"reason": "not needed"}}),
            "retry": OperationSpec(status=202, errors=conflict, links=_run_links,
                                   example={"attributes": {"run_mode": "full_refresh"}}),
        },
        "syncs.api.views.ProviderListView": {
            "get": OperationSpec(
                operation_id="syncs_providers_list", tags=("providers",),
                responses=_data_response(
                    "The providers of the sync catalog.", "ProviderCollectionDocument",
                    lambda: documents.document(_provider_resource(), collection=True))),
        },
        "syncs.api.views.ProviderCatalogView": {
            "get": OperationSpec(
                operation_id="syncs_providers_catalog", tags=("providers",),
                parameters=({"in": "path", "name": "provider", "required": True,
                             "schema": {"type": "string", "enum": _provider_keys()}},),
                responses=_data_response(
                    "A provider's catalog: config and secrets schemas, resources.",
                    "ProviderCatalogDocument",
                    lambda: documents.document(_provider_catalog_resource()))),
        },
        "syncservice.jsonapi.operations.OperationsView": {
            "post": OperationSpec(operation_id="operations", tags=("operations",), grammar=False,
                                  errors=(400, 404, 409, 415, 422), notes=ATOMIC_RULES,
                                  request_body=_atomic_request, responses=_atomic_responses),
        },
        "syncservice.openapi.views.SchemaView": {
            "get": OperationSpec(operation_id="openapi_schema", tags=("openapi",),
                                 grammar=False, authenticated=False, errors=(404,),
                                 responses=_schema_responses, parameters=_schema_parameters()),
        },
        "syncservice.openapi.views.SwaggerView": {
            "get": OperationSpec(operation_id="openapi_docs", tags=("openapi",),
                                 grammar=False, authenticated=False,
                                 responses=_docs_responses),
        },
    }


@dataclass
class _Table:
    specs: dict[str, dict[str, OperationSpec]] | None = field(default=None)

    def lookup(self, view_class: type, action: str) -> OperationSpec | None:
        if self.specs is None:
            self.specs = _specs()
        for klass in view_class.__mro__:
            entry = self.specs.get(f"{klass.__module__}.{klass.__qualname__}", {})
            if action in entry:
                return entry[action]
        return None


_TABLE = _Table()


def spec_for(view_class: type, action: str) -> OperationSpec | None:
    return _TABLE.lookup(view_class, action)
