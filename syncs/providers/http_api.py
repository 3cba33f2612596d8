"""Generic HTTP API: a declarative REST source.

The connection describes the API: ``base_url``, ``auth`` (none, bearer token, API key in a
header or the query string, HTTP basic, OAuth 2 client credentials), ``pagination`` (none, page
number, offset/limit, cursor token, ``Link`` header, next URL in the body) and ``streams``, each
a user-defined entity: a path, a record selector (``$.data.items``: a dotted path into the JSON
body), a primary key and an optional cursor field with the request parameter(s) that filter on
it. The catalog has no static resources: every stream is a dynamic entity. Secret values
(token, API key, password, client secret) live in the secrets; non-secret parts of the auth
(header name, basic-auth username, token URL) in the config. Matches ``syncs.connectors.http_api``.
"""

from syncs.providers import schemas as js
from syncs.providers.base import define_provider

AUTH_TYPES = ["none", "bearer", "api_key_header", "api_key_query", "basic",
              "oauth2_client_credentials"]
PAGINATION_TYPES = ["none", "page_number", "offset", "cursor", "link_header", "next_url"]

AUTH_SCHEMA = js.obj({
    "type": js.enum(AUTH_TYPES, "Authentication scheme.", default="none"),
    "header": js.string("Header carrying the API key (api_key_header).", minLength=1,
                        default="X-API-Key"),
    "param": js.string("Query parameter carrying the API key (api_key_query).", minLength=1,
                       default="api_key"),
    "username": js.string("Username (basic); the password is a secret.", minLength=1),
    "token_url": js.http_url("Token endpoint (oauth2_client_credentials)."),
    "scopes": js.string_list("Scopes requested (oauth2_client_credentials)."),
}, required=["type"], description="How requests authenticate; secret values are in secrets.",
    allOf=[
        {"if": {"properties": {"type": {"const": "basic"}}},
         "then": {"required": ["username"]}},
        {"if": {"properties": {"type": {"const": "oauth2_client_credentials"}}},
         "then": {"required": ["token_url"]}},
    ])

PAGINATION_SCHEMA = js.obj({
    "type": js.enum(PAGINATION_TYPES, "Pagination style.", default="none"),
    "page_size": js.integer("Records per page (page_number, offset).", minimum=1, default=100),
    "page_param": js.string("Page number parameter (page_number).", minLength=1, default="page"),
    "start_page": js.integer("First page number (page_number).", minimum=0, default=1),
    "size_param": js.string("Page size parameter (page_number).", minLength=1,
                            default="per_page"),
    "offset_param": js.string("Offset parameter (offset).", minLength=1, default="offset"),
    "limit_param": js.string("Limit parameter (offset).", minLength=1, default="limit"),
    "cursor_param": js.string("Request parameter taking the next-page token (cursor).",
                              minLength=1, default="cursor"),
    "cursor_path": js.string("Path of the next-page token in the body, e.g. $.meta.next_cursor "
                             "(cursor).", minLength=1),
    "next_url_path": js.string("Path of the next page's URL in the body, e.g. $.links.next "
                               "(next_url).", minLength=1, default="next"),
}, required=["type"], description="How the API pages through results.",
    allOf=[{"if": {"properties": {"type": {"const": "cursor"}}},
            "then": {"required": ["cursor_path"]}}])

STREAM_SCHEMA = js.obj({
    "name": js.string("Entity key of the stream (names its warehouse table).",
                      pattern=js.ENTITY_NAME_PATTERN),
    "path": js.string("Path relative to base_url, e.g. /v1/invoices.", minLength=1),
    "params": js.obj({}, additional=True, description="Fixed query parameters.",
                     additionalProperties={"type": ["string", "number", "boolean"]}),
    "record_selector": js.string("Dotted path to the records in the body ($ = the body itself, "
                                 "$.data.items); a single object counts as one record.",
                                 default="$"),
    "primary_key": js.string_list("Fields identifying a record (required for upsert)."),
    "cursor_field": js.string("Record field read incrementally (its maximum is checkpointed).",
                              minLength=1),
    "cursor_param": js.string("Request parameter given the last checkpointed cursor (and a "
                              "window's start).", minLength=1),
    "cursor_end_param": js.string("Request parameter given a window's end (fan_out_window).",
                                  minLength=1),
    "load_mode": js.enum(["append_event", "upsert", "replace"],
                         "Load mode (default upsert with a primary key, append_event without)."),
}, required=["name", "path"],
    allOf=[{"if": {"properties": {"load_mode": {"const": "upsert"}}, "required": ["load_mode"]},
            "then": {"required": ["primary_key"],
                     "properties": {"primary_key": {"minItems": 1}}}}])

CONFIG_SCHEMA = js.obj({
    "base_url": js.http_url("Root URL of the API, e.g. https://api.example.com/."),
    "headers": js.obj({}, additional=True, description="Extra request headers (not secret).",
                      additionalProperties={"type": "string"}),
    "auth": AUTH_SCHEMA | {"default": {"type": "none"}},
    "pagination": PAGINATION_SCHEMA | {"default": {"type": "none"}},
    "streams": {"type": "array", "items": STREAM_SCHEMA, "default": [],
                "description": "The entities this API exposes."},
    "check_path": js.string("Path requested by the connection check (default: the first "
                            "stream's path).", minLength=1),
    "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 600, "default": 30,
                        "description": "Timeout of one request, in seconds."},
    "max_retries": js.integer("Retries of a request answered 429 or 5xx.", minimum=0, maximum=10,
                              default=4),
    "requests_per_second": {"type": "number", "exclusiveMinimum": 0,
                            "description": "Client-side rate limit (unlimited if omitted)."},
}, required=["base_url"], title="HTTP API connection", examples=[{
    "base_url": "https://api.example.com/",
    "auth": {"type": "bearer"},
    "pagination": {"type": "cursor", "cursor_param": "starting_after",
                   "cursor_path": "$.meta.next_cursor"},
    "streams": [{"name": "invoices", "path": "/v1/invoices", "record_selector": "$.data",
                 "primary_key": ["id"], "cursor_field": "updated_at",
                 "cursor_param": "updated_since"}],
}])

SECRETS_SCHEMA = js.obj({
    "token": js.secret("Bearer token (bearer)."),
    "api_key": js.secret("API key (api_key_header, api_key_query)."),
    "password": js.secret("Password (basic)."),
    "client_id": js.secret("OAuth client id (oauth2_client_credentials)."),
    "client_secret": js.secret("OAuth client secret (oauth2_client_credentials)."),
}, title="HTTP API secrets", dependentRequired={"client_id": ["client_secret"],
                                                "client_secret": ["client_id"]},
    examples=[{"token": "example-token"}])

SPEC = define_provider("http_api", "HTTP API",
    "Any JSON REST API, described declaratively: auth, pagination and streams.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, dynamic_resources=True)
