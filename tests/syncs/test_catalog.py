"""The provider catalog (syncs.providers): data only, no database and no network."""

from __future__ import annotations

import copy
import json
import re

import pytest
from jsonschema import Draft202012Validator

from syncs.providers import base
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
from syncs.providers.schemas import defaults_from

# The reference's provider enum, in its order.
REFERENCE_PROVIDERS = [
    "shopify", "http_api", "flexiroam", "starlink", "s3", "google_drive", "msft_sharepoint",
    "klaviyo", "amazon_sp", "salesforce", "netsuite", "sqlserver", "postgres", "mlflow", "sftp",
    "gmail_inbox", "dropbox", "rydership", "gorgias", "redo", "bullhorn",
]
# The catalog response fields of the reference (camelCase there, snake_case in to_catalog()).
REFERENCE_CATALOG_FIELDS = ["availableResources", "configSchema", "defaultResources",
                            "defaults", "displayName", "dynamicResources", "name", "provider",
                            "resources"]
REFERENCE_RESOURCE_FIELDS = ["configSchema", "cursorField", "defaultSelected", "dependsOn",
                             "description", "displayName", "entityKey", "loadMode", "sizeClass",
                             "slicing", "storageDescription", "storageKind"]
# Entities discovered at run time (user-defined streams, tables, files; Salesforce objects).
DYNAMIC = {"http_api", "postgres", "sqlserver", "s3", "sftp", "google_drive", "dropbox",
           "msft_sharepoint", "salesforce"}
# Providers whose host is part of the connection (no fixed API host to override).
HOST_IN_CONFIG = {"http_api": "base_url", "salesforce": "instance_url", "postgres": "host",
                  "sqlserver": "host", "sftp": "host", "s3": "endpoint_url",
                  "mlflow": "tracking_uri"}

SPECS = all_providers()
RESOURCES = [(spec, resource) for spec in SPECS for resource in spec.resources]


def spec_id(spec: ProviderSpec) -> str:
    return spec.key


def resource_id(value) -> str:
    return f"{value[0].key}.{value[1].entity_key}" if isinstance(value, tuple) else str(value)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def topological_order(spec: ProviderSpec) -> list[str]:
    """Kahn's algorithm, independent of the implementation's own ordering."""
    pending = {r.entity_key: set(r.depends_on) for r in spec.resources}
    order: list[str] = []
    while pending:
        ready = [k for k, deps in pending.items() if not deps]
        assert ready, f"{spec.key}: dependency cycle among {sorted(pending)}"
        for key in ready:
            order.append(key)
            del pending[key]
        for deps in pending.values():
            deps.difference_update(ready)
    return order


# --- the registry -----------------------------------------------------------------------------

def test_all_providers_registered_in_reference_order():
    assert list(PROVIDER_KEYS) == REFERENCE_PROVIDERS
    assert list(provider_keys()) == REFERENCE_PROVIDERS
    assert [s.key for s in all_providers()] == REFERENCE_PROVIDERS
    for key in REFERENCE_PROVIDERS:
        assert get_provider(key) is not None and get_provider(key).key == key
    assert get_provider("nope") is None


def test_register_refuses_a_second_spec_for_a_key_unless_replacing():
    shopify = get_provider("shopify")
    assert register(shopify) is shopify  # re-registering the same object is harmless
    clone = ProviderSpec(key="shopify", display_name="x", description="x",
                         config_schema={"type": "object"}, secrets_schema={"type": "object"})
    with pytest.raises(ValueError, match="already registered"):
        register(clone)
    extra = ProviderSpec(key="zz_test_provider", display_name="Test", description="A test.",
                         config_schema={"type": "object"}, secrets_schema={"type": "object"})
    try:
        register(extra)
        assert provider_keys()[-1] == "zz_test_provider"
        assert list(provider_keys()[:21]) == REFERENCE_PROVIDERS
    finally:
        base.unregister("zz_test_provider")
    assert "zz_test_provider" not in provider_keys()


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_dynamic_resources_flag(spec):
    assert spec.dynamic_resources is (spec.key in DYNAMIC)
    if not spec.dynamic_resources:
        assert spec.resources, "a provider without dynamic entities needs static resources"


# --- schemas ----------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_schemas_are_valid_draft_2020_12(spec):
    Draft202012Validator.check_schema(spec.config_schema)
    Draft202012Validator.check_schema(spec.secrets_schema)
    for resource in spec.resources:
        Draft202012Validator.check_schema(resource.config_schema)
    for schema in (spec.config_schema, spec.secrets_schema):
        assert schema["type"] == "object"
        assert schema.get("additionalProperties") is False, "typos must not pass silently"
        assert set(schema.get("required", [])) <= set(schema["properties"])


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_config_properties_are_described(spec):
    for name, prop in spec.config_schema["properties"].items():
        assert prop.get("description"), f"{spec.key}: config property {name} has no description"


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_secrets_are_write_only_strings(spec):
    properties = spec.secrets_schema["properties"]
    assert properties, f"{spec.key} declares no secrets"
    for name, prop in properties.items():
        assert prop["type"] == "string" and prop.get("writeOnly") is True, name
        assert name not in spec.config_schema["properties"], f"{name} is config and secret"


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_fixed_hosts_can_be_overridden(spec):
    properties = spec.config_schema["properties"]
    if spec.key in HOST_IN_CONFIG:
        assert HOST_IN_CONFIG[spec.key] in properties
        return
    assert "base_url" in properties, f"{spec.key} needs a base_url override for tests"
    assert properties["base_url"]["format"] == "uri"
    assert "base_url" not in spec.config_schema.get("required", [])
    assert validate_config(spec, spec.with_defaults({**spec.config_schema["examples"][0],
                                                     "base_url": "http://127.0.0.1:8000/"})) == []


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_defaults_are_config_values(spec):
    """``defaults`` are connection config values: each one is a config property, valid there,
    and the same as that property's own ``default``."""
    properties = spec.config_schema["properties"]
    assert spec.defaults == defaults_from(spec.config_schema)
    for key, value in spec.defaults.items():
        assert key in properties
        errors = list(Draft202012Validator(properties[key],
                                           format_checker=base.FORMAT_CHECKER).iter_errors(value))
        assert not errors, f"{spec.key}: default {key}={value!r}: {errors[0].message}"
    required_without_default = [k for k in spec.config_schema.get("required", [])
                                if k not in spec.defaults]
    assert validate_config(spec, spec.defaults) == [
        (f"/{k}", "is a required property") for k in sorted(required_without_default)]


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_examples_validate(spec):
    config_examples = spec.config_schema.get("examples")
    secrets_examples = spec.secrets_schema.get("examples")
    assert config_examples and secrets_examples
    for example in config_examples:
        assert validate_config(spec, example) == []
        assert validate_config(spec, spec.with_defaults(example)) == []
    for example in secrets_examples:
        assert validate_secrets(spec, example) == []


@pytest.mark.parametrize("value", RESOURCES, ids=resource_id)
def test_resource_config_defaults_validate(value):
    _, resource = value
    defaults = defaults_from(resource.config_schema)
    assert validate_resource_config(resource, defaults) == []
    assert validate_resource_config(resource, {}) == []


# --- resources --------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_entity_keys_are_unique_identifiers(spec):
    keys = [r.entity_key for r in spec.resources]
    assert len(keys) == len(set(keys))
    for key in keys:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key) and len(key) <= 48


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_dependencies_exist_and_are_acyclic(spec):
    keys = {r.entity_key for r in spec.resources}
    for resource in spec.resources:
        assert set(resource.depends_on) <= keys - {resource.entity_key}
    order = topological_order(spec)
    assert sorted(order) == sorted(keys)
    implementation = spec.dependency_order()
    position = {k: i for i, k in enumerate(implementation)}
    for resource in spec.resources:
        for dependency in resource.depends_on:
            assert position[dependency] < position[resource.entity_key]


@pytest.mark.parametrize("value", RESOURCES, ids=resource_id)
def test_resource_fields(value):
    spec, resource = value
    assert resource.load_mode in LOAD_MODES
    assert resource.size_class in SIZE_CLASSES
    assert resource.storage_kind in STORAGE_KINDS
    assert resource.display_name and resource.description and resource.storage_description
    if resource.load_mode == "upsert":
        assert resource.primary_key, "an upsert merges on a primary key"
    assert all(isinstance(k, str) and k for k in resource.primary_key)
    assert resource.cursor_field is None or (isinstance(resource.cursor_field, str)
                                             and resource.cursor_field)
    assert resource.config_schema["type"] == "object" and "properties" in resource.config_schema
    if resource.slicing:
        assert resource.slicing["kind"] == "cursor_window"
        assert resource.slicing["field"] == resource.cursor_field
        assert base.ISO_DURATION_RE.match(resource.slicing["default_window"])
        assert resource.slicing["cursor_format"] in base.CURSOR_FORMATS
    if resource.depends_on and resource.cursor_field is None:
        # a child read through its parents: an ancestor carries the incremental cursor
        ancestors, stack = [], list(resource.depends_on)
        while stack:
            ancestors.append(spec.get_resource(stack.pop()))
            stack.extend(ancestors[-1].depends_on)
        assert any(a.cursor_field or a.load_mode == "replace" for a in ancestors)


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_available_and_default_resources(spec):
    assert spec.available_resources == [r.entity_key for r in spec.resources]
    assert spec.default_resources == [r.entity_key for r in spec.resources
                                      if r.default_selected]
    assert set(spec.default_resources) <= set(spec.available_resources)
    defaults = set(spec.default_resources)
    for key in spec.default_resources:
        assert set(spec.get_resource(key).depends_on) <= defaults, \
            f"{spec.key}.{key} is selected by default without its dependencies"
    if spec.resources:
        assert spec.default_resources


def test_dependency_order_of_a_selection():
    shopify = get_provider("shopify")
    assert shopify.dependency_order(["refunds", "orders", "customers"]) == [
        "customers", "orders", "refunds"]
    assert shopify.dependency_order(["inventory_items", "products"]) == [
        "products", "inventory_items"]
    assert shopify.dependency_order(["custom_stream"]) == ["custom_stream"]
    klaviyo = get_provider("klaviyo")
    order = klaviyo.dependency_order()
    assert order.index("flows") < order.index("flow_actions") < order.index("flow_messages")


# --- the catalog document ---------------------------------------------------------------------

@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_to_catalog_has_every_reference_field_and_is_json(spec):
    catalog = spec.to_catalog()
    assert json.loads(json.dumps(catalog)) == catalog
    assert {snake(f) for f in REFERENCE_CATALOG_FIELDS} | {"secrets_schema"} <= set(catalog)
    assert catalog["provider"] == catalog["name"] == spec.key
    assert catalog["display_name"] == spec.display_name
    assert catalog["available_resources"] == spec.available_resources
    assert catalog["default_resources"] == spec.default_resources
    assert catalog["dynamic_resources"] is spec.dynamic_resources
    assert catalog["config_schema"] == spec.config_schema
    assert catalog["secrets_schema"] == spec.secrets_schema
    assert catalog["defaults"] == spec.defaults
    assert [r["entity_key"] for r in catalog["resources"]] == spec.available_resources
    for entry in catalog["resources"]:
        assert {snake(f) for f in REFERENCE_RESOURCE_FIELDS} | {"primary_key"} <= set(entry)
        assert entry["load_mode"] in LOAD_MODES and entry["size_class"] in SIZE_CLASSES
        assert entry["storage_kind"] in STORAGE_KINDS
        assert isinstance(entry["depends_on"], list) and isinstance(entry["slicing"], dict)


def test_to_catalog_returns_copies():
    spec = get_provider("shopify")
    before = copy.deepcopy(spec.to_catalog())
    catalog = spec.to_catalog()
    catalog["config_schema"]["properties"].clear()
    catalog["defaults"]["api_version"] = "1999-01"
    catalog["resources"][0]["depends_on"].append("x")
    catalog["available_resources"].append("x")
    assert spec.to_catalog() == before


# --- validation -------------------------------------------------------------------------------

def test_validate_config_points_at_missing_and_mistyped_fields():
    shopify = get_provider("shopify")
    assert validate_config(shopify, {"shop_domain": "mystore.myshopify.com"}) == []
    assert validate_config(shopify, {}) == [("/shop_domain", "is a required property")]
    assert validate_config(shopify, {"shop_domain": 42}) == [
        ("/shop_domain", "must be of type string")]
    assert validate_config(shopify, {"shop_domain": "mystore.com", "page_size": 1000,
                                     "shop_domian": "x"}) == [
        ("/page_size", "must be less than or equal to 250"),
        ("/shop_domain", "must match the pattern ^[a-z0-9][a-z0-9-]*\\.myshopify\\.com$"),
        ("/shop_domian", "is not an allowed property"),
    ]
    errors = validate_config(shopify, {"shop_domain": "a.myshopify.com", "base_url": "no url",
                                       "start_date": "2024-01-01"})
    assert ("/base_url", "must be a valid uri") in errors
    assert ("/start_date", "must be a valid date-time") in errors
    assert validate_config(shopify, {"shop_domain": "a.myshopify.com",
                                     "start_date": "2024-01-01T00:00:00Z",
                                     "base_url": "http://127.0.0.1:9000/admin"}) == []
    assert validate_config(shopify, None) == [("", "must be of type object")]
    assert validate_config(shopify, []) == [("", "must be of type object")]


def test_validate_config_points_into_nested_values():
    http_api = get_provider("http_api")
    config = {"base_url": "https://api.example.com/", "auth": {"type": "basic"},
              "pagination": {"type": "cursor"},
              "streams": [{"name": "ok", "path": "/ok"}, {"name": "Bad Name"},
                          {"name": "keyed", "path": "/k", "load_mode": "upsert"}]}
    assert validate_config(http_api, config) == [
        ("/auth/username", "is a required property"),
        ("/pagination/cursor_path", "is a required property"),
        ("/streams/1/name", "must match the pattern ^[a-z][a-z0-9_]*$"),
        ("/streams/1/path", "is a required property"),
        ("/streams/2/primary_key", "is a required property"),
    ]
    assert validate_config(http_api, {"base_url": "https://x.example/", "auth": {"type": "x"}}) \
        == [("/auth/type", 'must be one of "none", "bearer", "api_key_header", '
                           '"api_key_query", "basic", "oauth2_client_credentials"')]
    s3 = get_provider("s3")
    assert validate_config(s3, {"bucket": "b-1", "streams": [{"name": "a", "globs": []}]}) == [
        ("/streams/0/globs", "must have at least 1 items")]


def test_validate_secrets_never_echoes_values():
    klaviyo = get_provider("klaviyo")
    errors = validate_secrets(klaviyo, {"private_api_key": "sk_live_supersecret"})
    assert [p for p, _ in errors] == ["/private_api_key"]
    assert all("supersecret" not in message for _, message in errors)
    errors = validate_secrets(klaviyo, {"private_api_key": 12345, "extra_token": "hush-hush"})
    assert errors == [("/extra_token", "is not an allowed property"),
                      ("/private_api_key", "must be of type string")]
    assert "hush-hush" not in repr(errors) and "12345" not in repr(errors)
    assert validate_secrets(klaviyo, {}) == [("/private_api_key", "is a required property")]


def test_validate_secrets_alternatives():
    salesforce = get_provider("salesforce")
    app = {"client_id": "id", "client_secret": "secret"}
    assert validate_secrets(salesforce, {**app, "refresh_token": "r"}) == []
    assert validate_secrets(salesforce, {**app, "username": "u", "password": "p"}) == []
    assert validate_secrets(salesforce, app) == [("/refresh_token", "is a required property")]
    assert validate_secrets(salesforce, {**app, "username": "u"}) == [
        ("/password", "is a required property")]
    sftp = get_provider("sftp")
    assert validate_secrets(sftp, {"private_key": "-----BEGIN OPENSSH PRIVATE KEY-----"}) == []
    assert validate_secrets(sftp, {}) == [("/password", "is a required property")]
    assert validate_secrets(sftp, {"password": "p", "private_key_passphrase": "x"}) == [
        ("/private_key", "is required when 'private_key_passphrase' is set")]
    s3 = get_provider("s3")
    assert validate_secrets(s3, {}) == []  # the server's own credential chain
    assert validate_secrets(s3, {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE"}) == [
        ("/aws_secret_access_key", "is required when 'aws_access_key_id' is set")]


def test_json_pointers_escape_property_names():
    assert base.json_pointer(["a/b", "c~d", 0]) == "/a~1b/c~0d/0"
    assert base.json_pointer([]) == ""


# --- spec invariants are enforced at construction ---------------------------------------------

def make_resource(**kwargs) -> ResourceSpec:
    values = {"entity_key": "things", "display_name": "Things", "description": "Things.",
              "load_mode": "append_event"}
    return ResourceSpec(**{**values, **kwargs})


def make_spec(*resources: ResourceSpec, **kwargs) -> ProviderSpec:
    values = {"key": "test", "display_name": "Test", "description": "Test.",
              "config_schema": {"type": "object", "properties": {}},
              "secrets_schema": {"type": "object", "properties": {}}}
    return ProviderSpec(**{**values, **kwargs}, resources=list(resources))


@pytest.mark.parametrize("kwargs, message", [
    ({"load_mode": "merge"}, "load_mode"),
    ({"size_class": "xxl"}, "size_class"),
    ({"storage_kind": "s3"}, "storage_kind"),
    ({"load_mode": "upsert"}, "primary_key"),
    ({"entity_key": "Things"}, "snake_case"),
    ({"slicing": {"kind": "cursor_window", "field": "updated_at", "default_window": "P7D"}},
     "cursor_field"),
    ({"cursor_field": "updated_at", "slicing": {"kind": "cursor_window", "field": "updated_at",
                                                "default_window": "7 days"}}, "ISO 8601"),
    ({"depends_on": ["things"]}, "itself"),
])
def test_resource_spec_rejects_invalid_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_resource(**kwargs)


def test_provider_spec_rejects_bad_dependency_graphs():
    with pytest.raises(ValueError, match="unknown entities"):
        make_spec(make_resource(depends_on=["ghosts"]))
    with pytest.raises(ValueError, match="cycle"):
        make_spec(make_resource(entity_key="a", depends_on=["b"]),
                  make_resource(entity_key="b", depends_on=["a"]))
    with pytest.raises(ValueError, match="duplicate"):
        make_spec(make_resource(), make_resource())
    with pytest.raises(ValueError, match="dependencies"):
        make_spec(make_resource(entity_key="a", default_selected=False),
                  make_resource(entity_key="b", depends_on=["a"]))
    with pytest.raises(ValueError, match="not config_schema properties"):
        make_spec(defaults={"page_size": 10})
    spec = make_spec(make_resource(entity_key="a"), make_resource(entity_key="b",
                                                                  depends_on=["a"]))
    assert spec.dependency_order(["b", "a"]) == ["a", "b"]
    assert spec.get_resource("b").storage_description == \
        "Warehouse table, one row per event, appended."
