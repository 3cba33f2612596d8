"""What the syncs API's actions document beyond their views (``syncservice.openapi``)."""

from __future__ import annotations

from jobs.api.openapi import job_links
from syncs.api.serializers import SyncRunSerializer
from syncs.models import PROVIDERS, Sync
from syncservice.openapi import documents
from syncservice.openapi.operations import (
    PAGINATION_FAMILIES,
    OperationSpec,
    Schema,
    comma_items,
    data_response,
    link,
    query_parameter,
    update_body,
)

CONFLICT = (409,)

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

BINDING_ENTITIES = (
    "Which entities a binding may name, and their options, depend on its sync's connection's "
    "provider (`GET /api/v1/syncs/providers/{provider}/catalog`): another entity is a 422 "
    "naming `entity_key`.")


# --- links ------------------------------------------------------------------------------------

def _connection_links() -> dict[str, Schema]:
    return {
        "GetConnection": link("connections_retrieve", "The connection."),
        "UpdateConnection": link("connections_partial_update", "Change the connection.",
                                 body=update_body("connections")),
        "CheckConnection": link("connections_check", "Check the connection."),
        "CreateSync": {
            "operationId": "syncs_create", "description": "An active sync of this connection.",
            "requestBody": {"data": {"type": "syncs", "attributes": {"status": "active"},
                                     "relationships": {"connection": {"data": {
                                         "type": "connections",
                                         "id": "$response.body#/data/id"}}}}}},
        "DeleteConnection": link("connections_destroy", "Delete the connection."),
    }


def _sync_links() -> dict[str, Schema]:
    return {
        "GetSync": link("syncs_retrieve", "The sync."),
        "UpdateSync": link("syncs_partial_update", "Change the sync.",
                           body=update_body("syncs")),
        "TriggerSync": link("syncs_trigger", "Start a run of the sync."),
        "ListRuns": link("syncs_sync_pk_runs_list", "The sync's runs.", parameter="sync_pk"),
        "GetConnection": link("connections_retrieve", "The sync's connection.",
                              "/data/relationships/connection/data/id"),
        "ArchiveSync": link("syncs_destroy", "Archive the sync."),
    }


def _run_links() -> dict[str, Schema]:
    return {
        "GetRun": link("syncs_runs_retrieve", "The run."),
        "GetSyncRun": link("sync_runs_retrieve", "The run, in the sync-runs collection."),
        "CancelRun": link("syncs_runs_cancel", "Cancel the run."),
        "RetryRun": link("syncs_runs_retry", "A next attempt of the run (once it failed or "
                                             "was cancelled)."),
        "GetSync": link("syncs_retrieve", "The run's sync.", "/data/relationships/sync/data/id"),
        **job_links("/data/relationships/job/data/id"),
    }


# --- resources and parameters -------------------------------------------------------------------

def _provider_keys() -> list[str]:
    from syncs.providers import base as catalog

    return list(catalog.provider_keys())


def _provider_resource() -> Schema:
    attributes = documents.attributes_object({
        "display_name": {"type": "string"},
        "description": {"type": "string"},
        "dynamic_resources": {"type": "boolean"},
        "available_resources": {"type": "array", "items": {"type": "string"}},
        "default_resources": {"type": "array", "items": {"type": "string"}},
    })
    resource = documents.resource_object("providers", attributes, None)
    resource["properties"]["links"] = {"type": "object",
                                       "properties": {"catalog": documents.LINK},
                                       "additionalProperties": documents.LINK}
    return resource


def _provider_catalog_resource() -> Schema:
    attributes = documents.attributes_object({
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
    })
    return documents.resource_object("provider-catalogs", attributes, None)


def _sync_list_parameters() -> tuple[Schema, ...]:
    return (
        query_parameter("q", {"type": "string", "minLength": 1,
                              "pattern": r"^[^\x00]*[^\s\x00][^\x00]*$"},
                        "Search in name and slug (same as `filter[q]`)."),
        query_parameter("status", comma_items({"type": "string",
                                               "enum": [c for c, _ in Sync.Status.choices]}),
                        "Compatibility form of `filter[status__in]`.", comma_list=True),
        query_parameter("provider", comma_items({"type": "string", "enum": list(PROVIDERS)}),
                        "Compatibility form of `filter[provider__in]`.", comma_list=True),
    )


def _connection_relationship() -> Schema:
    return {"type": "object",
            "properties": {"connection": documents.to_one_request_relationship("connections")}}


def _sync_relationship() -> Schema:
    return {"type": "object", "required": ["sync"],
            "properties": {"sync": documents.to_one_request_relationship("syncs")}}


# --- the entries, per view ----------------------------------------------------------------------

CONNECTIONS = {
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
    "destroy": OperationSpec(errors=CONFLICT),
}

SYNCS = {
    "list": OperationSpec(parameters=_sync_list_parameters(), notes=PAGINATION_FAMILIES),
    "create": OperationSpec(
        required_attributes=("name",), relationships=_connection_relationship(),
        links=_sync_links, data_rules=SYNC_NEEDS_A_CONNECTION, notes=SYNC_PROVIDER_OPTIONS,
        example={"attributes": {"name": "Orders", "entities": ["orders"], "status": "active"},
                 "relationships": {"connection": {"data": {
                     "type": "connections", "id": "00000000-0000-4000-8000-000000000000"}}}}),
    "partial_update": OperationSpec(relationships=_connection_relationship(),
                                    notes=SYNC_PROVIDER_OPTIONS,
                                    example={"attributes": {"status": "paused"}}),
    "destroy": OperationSpec(errors=CONFLICT, notes=SYNC_ARCHIVED),
    "trigger": OperationSpec(status=202, response_serializer=SyncRunSerializer,
                             errors=CONFLICT, links=_run_links,
                             example={"attributes": {"run_mode": "incremental"}}),
}

TABLE_BINDINGS = {
    "create": OperationSpec(
        required_attributes=("entity_key",), relationships=_sync_relationship(),
        data_rules={"required": ["type", "attributes", "relationships"]},
        errors=CONFLICT, notes=BINDING_ENTITIES,
        example={"attributes": {"entity_key": "customers", "load_mode": "upsert",
                                "primary_key_columns": ["id"]},
                 "relationships": {"sync": {"data": {
                     "type": "syncs", "id": "00000000-0000-4000-8000-000000000000"}}}}),
    "partial_update": OperationSpec(errors=CONFLICT, notes=BINDING_ENTITIES,
                                    example={"attributes": {"load_mode": "append_event"}}),
    "destroy": OperationSpec(errors=CONFLICT),
}

SYNC_RUNS = {
    "list": OperationSpec(notes=PAGINATION_FAMILIES),
    "cancel": OperationSpec(errors=CONFLICT, links=_run_links,
                            example={"attributes": {"reason": "not needed"}}),
    "retry": OperationSpec(status=202, errors=CONFLICT, links=_run_links,
                           example={"attributes": {"run_mode": "full_refresh"}}),
}

PROVIDER_LIST = OperationSpec(
    operation_id="syncs_providers_list", tags=("providers",),
    responses=data_response(
        "The providers of the sync catalog.", "ProviderCollectionDocument",
        lambda: documents.document(_provider_resource(), collection=True)))


def provider_catalog() -> OperationSpec:
    """Built when the document is: the path parameter lists the catalog's providers."""
    return OperationSpec(
        operation_id="syncs_providers_catalog", tags=("providers",),
        parameters=({"in": "path", "name": "provider", "required": True,
                     "schema": {"type": "string", "enum": _provider_keys()}},),
        responses=data_response(
            "A provider's catalog: config and secrets schemas, resources.",
            "ProviderCatalogDocument", lambda: documents.document(_provider_catalog_resource())))
