from django.core.validators import RegexValidator
from rest_framework import serializers as drf_serializers
from rest_framework_json_api import serializers
from rest_framework_json_api.relations import (
    ResourceRelatedField,
    SerializerMethodResourceRelatedField,
)

from jobs.api.serializers import JobSerializer
from syncs import schemas
from syncs.freshness import stale_of
from syncs.models import PROVIDERS, Connection, Sync, SyncRun, TableBinding
from syncs.providers import base as catalog
from syncs.secrets import SecretsError
from syncs.services import secret_names
from syncservice.accounts.api.serializers import ProjectSerializer
from syncservice.events.api.serializers import EventSerializer, WithEvents, events_relationship
from syncservice.jsonapi.relations import ToOneField
from syncservice.jsonapi.serializers import ResourceSerializer
from syncservice.jsonschema import openapi30, register_component
from syncservice.jsonschema import validate as schema_errors
from syncservice.jsonschema.fields import (
    SchemaField,
    StrictCharField,
    StrictChoiceField,
    StrictIntegerField,
    StrictUUIDField,
)

# Empty (derive it from the name) or a slug Django's slugify keeps as it is.
SLUG_PATTERN = r"^([a-z0-9]+((_|-(?!-))+[a-z0-9]+)*)?$"


class ConnectionSerializer(ResourceSerializer):
    project = ToOneField(related_view="project-detail")
    secret_names = drf_serializers.SerializerMethodField(
        help_text="Names of the stored secrets (their values are never returned)")
    included_serializers = {"project": ProjectSerializer}

    class Meta:
        model = Connection
        fields = ["url", "provider", "name", "config", "secret_names", "last_check_at",
                  "last_check_status", "last_check_error", "created_by", "created_at",
                  "updated_at", "project"]

    def get_secret_names(self, connection: Connection) -> list[str]:
        try:
            return secret_names(connection)
        except SecretsError:
            # Stored under a key no longer configured: reads still work (and
            # check_stored_config lists the connection).
            return []


# --- the per-provider schemas, as the OpenAPI document publishes them ---------------------

def _pascal(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


def provider_config_ref(auto_schema, spec) -> dict:
    return register_component(auto_schema, f"{_pascal(spec.key)}Config",
                              openapi30(spec.config_schema))


def provider_secrets_ref(auto_schema, spec) -> dict:
    return register_component(auto_schema, f"{_pascal(spec.key)}Secrets",
                              openapi30(spec.secrets_schema))


def _any_provider(auto_schema, ref, description: str) -> dict:
    return {"anyOf": [ref(auto_schema, spec) for spec in catalog.all_providers()],
            "description": description}


def _config_openapi(auto_schema) -> dict:
    return _any_provider(auto_schema, provider_config_ref,
                         "The connection's configuration: it must match the schema of the "
                         "connection's provider (`<Provider>Config`; also "
                         "`GET /syncs/providers/{provider}/catalog`). Replaces the stored "
                         "config as a whole.")


def _secrets_openapi(auto_schema) -> dict:
    return _any_provider(auto_schema, provider_secrets_ref,
                         "Secrets to store (write-only, encrypted), merged into the stored "
                         "ones; the result must match the schema of the connection's provider "
                         "(`<Provider>Secrets`).")


def _source_config_openapi(auto_schema) -> dict:
    refs = [register_component(auto_schema, f"{_pascal(spec.key)}SourceConfig",
                               openapi30(schemas.source_config_schema(spec.key)))
            for spec in catalog.all_providers()]
    return {"anyOf": refs,
            "description": "Overrides of the connection's config for this sync, and per-entity "
                           "options under `entities`: it must match the `<Provider>SourceConfig` "
                           "of the connection's provider, and the config it makes with the "
                           "connection's must match `<Provider>Config`."}


def _required_members(schema: dict) -> bool:
    """Whether a provider's config or secrets must be given: the server checks an omitted one
    as ``{}`` (required members may also hide in ``anyOf``, e.g. a password or a key)."""
    return bool(schema_errors(schema, {}))


class ConnectionWriteSerializer(serializers.Serializer):
    """Attributes of POST/PATCH /connections. ``config`` and ``secrets`` are checked against
    the provider's schemas (``services.validate_connection``); on create the document is
    published as one form per provider, discriminated by ``provider``."""

    provider = StrictChoiceField(choices=PROVIDERS, required=False)
    name = StrictCharField(max_length=255, required=False)
    config = SchemaField({"type": "object"}, openapi=_config_openapi, required=False)
    secrets = SchemaField({"type": "object"}, openapi=_secrets_openapi, required=False,
                          write_only=True)

    class Meta:
        resource_name = "connections"

    @classmethod
    def openapi_attributes(cls, auto_schema, attributes: dict, *, partial: bool) -> dict:
        """Create: the generic attributes and ``oneOf`` the providers' forms, discriminated by
        ``provider``; each names its provider's config and secrets schemas and requires them
        when they have required members (s3's ``bucket``). Update: as generated (the provider
        is the stored one)."""
        if partial:
            return attributes
        forms, mapping = [], {}
        for spec in catalog.all_providers():
            properties = dict(attributes.get("properties", {}))
            properties["provider"] = {"type": "string", "enum": [spec.key]}
            properties["config"] = provider_config_ref(auto_schema, spec)
            properties["secrets"] = provider_secrets_ref(auto_schema, spec)
            required = ["provider", "name"]
            if _required_members(spec.config_schema):
                required.append("config")
            if _required_members(spec.secrets_schema):
                required.append("secrets")
            form = {"type": "object", "title": f"{spec.display_name} connection",
                    "properties": properties, "required": required}
            ref = register_component(auto_schema, f"{_pascal(spec.key)}ConnectionAttributes",
                                     form)
            forms.append(ref)
            mapping[spec.key] = ref["$ref"]
        return {**attributes, "oneOf": forms,
                "discriminator": {"propertyName": "provider", "mapping": mapping}}


class TableBindingSerializer(serializers.ModelSerializer):
    sync = ResourceRelatedField(read_only=True)

    class Meta:
        model = TableBinding
        fields = ["entity_key", "logical_table_name", "physical_table_name", "table_name",
                  "table_naming_version", "load_mode", "cursor_field", "primary_key_columns",
                  "source_instance_key", "created_at", "updated_at", "sync"]


def _binding_member(name: str) -> dict:
    return schemas.TABLE_BINDING["properties"][name]


class TableBindingWriteSerializer(serializers.Serializer):
    """Attributes of POST/PATCH /table-bindings (type ``table-bindings``): one member of a
    sync's ``table_bindings``, with the same schema. POST needs ``entity_key`` and
    ``relationships.sync``; the entity joins the sync's entities."""

    entity_key = SchemaField(_binding_member("entity_key"), required=False)
    logical_table_name = SchemaField(_binding_member("logical_table_name"), required=False)
    table_name = SchemaField(_binding_member("table_name"), required=False)
    table_naming_version = StrictChoiceField(choices=TableBinding.NamingVersion.choices,
                                             required=False)
    load_mode = StrictChoiceField(choices=TableBinding.LoadMode.choices, required=False)
    cursor_field = SchemaField(_binding_member("cursor_field"), required=False)
    primary_key_columns = SchemaField(_binding_member("primary_key_columns"), required=False)

    class Meta:
        resource_name = "table-bindings"


class SyncRunSerializer(WithEvents, ResourceSerializer):
    sync = ToOneField(related_view="sync-detail")
    project = ToOneField(related_view="project-detail")
    job = ToOneField(related_view="job-detail")
    events = events_relationship("sync-run-events")
    included_serializers = {"sync": "syncs.api.serializers.SyncSerializer",
                            "project": ProjectSerializer, "job": JobSerializer,
                            "events": EventSerializer}

    class Meta:
        model = SyncRun
        fields = ["url", "run_mode", "status", "execution_backend", "execution_mode",
                  "triggered_by", "trigger_ref", "attempt_number", "attempt_root_run_id",
                  "previous_attempt_run_id", "next_attempt_run_id", "max_auto_resume_attempts",
                  "executor_id", "backend_run_ref", "backend_run_url", "backend_status",
                  "backend_heartbeat_at", "last_heartbeat_at", "cancel_requested_at",
                  "cancel_requested_by", "cancel_reason", "error", "result_class",
                  "result_reason_code", "summary", "started_at", "completed_at", "created_at",
                  "updated_at", "sync", "project", "job", "events"]
        extra_kwargs = {"url": {"view_name": "sync-run-detail"}}


class SyncSerializer(ResourceSerializer):
    project = ToOneField(related_view="project-detail")
    connection = ToOneField(related_view="connection-detail")
    table_bindings = ResourceRelatedField(many=True, read_only=True)
    last_run = SerializerMethodResourceRelatedField(model=SyncRun, read_only=True,
                                                    method_name="get_last_run")
    provider_key = drf_serializers.CharField(source="connection.provider", read_only=True)
    stale = drf_serializers.SerializerMethodField(
        help_text="Whether the sync's data is older than its `freshness_sla_seconds`: no success "
                  "within the SLA (counted from `last_success_at`, or from `created_at` when it "
                  "never succeeded) while `active`, `paused` or `error`. Always false without "
                  "an SLA. Filter with `filter[stale]`.")
    included_serializers = {"project": ProjectSerializer, "connection": ConnectionSerializer,
                            "table_bindings": TableBindingSerializer,
                            "last_run": SyncRunSerializer}

    class Meta:
        model = Sync
        fields = ["url", "name", "slug", "provider_key", "entities", "source_config",
                  "destination_config", "execution_backend", "execution_config",
                  "execution_mode", "trigger_mode", "schedule", "freshness_sla_seconds",
                  "stale", "status", "last_success_at", "last_error", "task_slug", "next_run_at",
                  "created_by", "updated_by", "created_at", "updated_at", "project",
                  "connection", "table_bindings", "last_run"]

    def get_stale(self, sync: Sync) -> bool:
        return stale_of(sync)

    def get_last_run(self, sync: Sync) -> SyncRun | None:
        latest = getattr(sync, "latest_runs", None)
        if latest is None:
            return sync.runs.order_by("-created_at").first()
        return latest[0] if latest else None


class SyncWriteSerializer(serializers.Serializer):
    """Attributes of POST/PATCH /syncs (type ``syncs``). The connection comes as
    ``relationships.connection`` or the reference's ``connection_id`` attribute; bindings as
    the reference's ``table_bindings`` attribute (a list of binding objects)."""

    connection_id = StrictUUIDField(required=False)
    name = StrictCharField(max_length=255, required=False)
    # Short enough that derived table names (<slug>_<entity>) fit their columns; the pattern
    # is exactly the slugs Django's slugify leaves as they are (what validate_sync checks).
    slug = StrictCharField(max_length=100, required=False, allow_blank=True,
                           validators=[RegexValidator(SLUG_PATTERN, "must be lowercase "
                                                      "letters, digits, hyphens and "
                                                      "underscores, starting and ending with "
                                                      "a letter or digit")])
    entities = SchemaField(schemas.ENTITIES, required=False)
    table_bindings = SchemaField(schemas.TABLE_BINDINGS, component="TableBindingList",
                                 required=False)
    source_config = SchemaField(schemas.SOURCE_CONFIG_SHAPE, openapi=_source_config_openapi,
                                required=False)
    destination_config = SchemaField(schemas.DESTINATION_CONFIG, component="DestinationConfig",
                                     required=False)
    execution_backend = StrictChoiceField(choices=Sync.ExecutionBackend.choices,
                                          required=False)
    execution_config = SchemaField(schemas.EXECUTION_CONFIG, component="ExecutionConfig",
                                   required=False)
    execution_mode = StrictChoiceField(choices=Sync.ExecutionMode.choices, required=False)
    trigger_mode = StrictChoiceField(choices=Sync.TriggerMode.choices, required=False)
    schedule = SchemaField(schemas.SCHEDULE, component="Schedule", required=False)
    freshness_sla_seconds = StrictIntegerField(min_value=0, max_value=schemas.INT32_MAX,
                                               required=False, allow_null=True)
    status = StrictChoiceField(choices=Sync.Status.choices, required=False)
    task_slug = StrictCharField(max_length=255, required=False, allow_blank=True)

    class Meta:
        resource_name = "syncs"


class TriggerSerializer(serializers.Serializer):
    run_mode = StrictChoiceField(choices=SyncRun.RunMode.choices,
                                 default=SyncRun.RunMode.INCREMENTAL)

    class Meta:
        resource_name = "sync-triggers"


class CancelSerializer(serializers.Serializer):
    reason = StrictCharField(required=False, allow_blank=True, default="", max_length=2000)

    class Meta:
        resource_name = "sync-run-cancels"


class RetrySerializer(serializers.Serializer):
    run_mode = StrictChoiceField(choices=SyncRun.RunMode.choices, required=False)

    class Meta:
        resource_name = "sync-run-retries"
