"""Small builders for the JSON Schemas of the provider modules (Draft 2020-12)."""

from __future__ import annotations

from typing import Any

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ENTITY_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
HTTP_URL_PATTERN = r"^https?://"
FILE_FORMATS = ["csv", "tsv", "jsonl", "json", "parquet", "xlsx"]


def obj(properties: dict[str, dict], required: list[str] | tuple[str, ...] = (), *,
        title: str | None = None, description: str | None = None,
        additional: bool = False, examples: list[dict] | None = None, **extra: Any) -> dict:
    """An object schema; closed (``additionalProperties: false``) unless ``additional``."""
    schema: dict[str, Any] = {}
    if title is not None:
        schema["$schema"] = DRAFT
        schema["title"] = title
    if description:
        schema["description"] = description
    schema["type"] = "object"
    schema["properties"] = properties
    if required:
        schema["required"] = list(required)
    if not additional:
        schema["additionalProperties"] = False
    schema.update(extra)
    if examples:
        schema["examples"] = examples
    return schema


def _with(schema: dict, description: str | None, **kw: Any) -> dict:
    if description:
        schema["description"] = description
    schema.update({k: v for k, v in kw.items() if v is not None})
    return schema


def string(description: str | None = None, **kw: Any) -> dict:
    return _with({"type": "string"}, description, **kw)


def nonempty(description: str | None = None, **kw: Any) -> dict:
    return _with({"type": "string", "minLength": 1}, description, **kw)


def secret(description: str, **kw: Any) -> dict:
    """A secret string: write-only, never returned by the API."""
    return _with({"type": "string", "minLength": 1, "writeOnly": True}, description, **kw)


def integer(description: str | None = None, *, minimum: int | None = None,
            maximum: int | None = None, default: int | None = None) -> dict:
    return _with({"type": "integer"}, description, minimum=minimum, maximum=maximum,
                 default=default)


def boolean(description: str, default: bool | None = None) -> dict:
    return _with({"type": "boolean"}, description, default=default)


def enum(values: list[str], description: str | None = None, default: str | None = None) -> dict:
    return _with({"type": "string", "enum": list(values)}, description, default=default)


def string_list(description: str | None = None, *, min_items: int | None = None,
                items: dict | None = None, default: list | None = None, **kw: Any) -> dict:
    schema = {"type": "array", "items": items or {"type": "string", "minLength": 1},
              "uniqueItems": True}
    return _with(schema, description, minItems=min_items, default=default, **kw)


def http_url(description: str, default: str | None = None, **kw: Any) -> dict:
    return _with({"type": "string", "format": "uri", "pattern": HTTP_URL_PATTERN},
                 description, default=default, **kw)


def base_url(default_url: str) -> dict:
    """The optional override of an API host that is normally fixed (tests, proxies)."""
    return http_url(f"Override of the API base URL (default {default_url}); for tests, "
                    "proxies and regional hosts.")


def token_url(default_url: str | None = None, description: str | None = None) -> dict:
    """The OAuth token endpoint: configurable like the API host (tests, proxies, sovereign
    clouds), and checked by the SSRF guard like every ``*_url`` of a config."""
    return http_url(description or "OAuth token endpoint"
                    + (f" (default {default_url})." if default_url else "."),
                    default=default_url)


def start_date(description: str = "Read records changed at or after this instant on the "
               "first run; null reads the whole history.") -> dict:
    return {"type": ["string", "null"], "format": "date-time", "description": description,
            "default": None}


def page_size(default: int, maximum: int, description: str | None = None) -> dict:
    return integer(description or f"Records per page requested from the API (max {maximum}).",
                   minimum=1, maximum=maximum, default=default)


def hostname(description: str) -> dict:
    return {"type": "string", "minLength": 1, "format": "hostname", "description": description}


def port(default: int) -> dict:
    return integer("TCP port.", minimum=1, maximum=65535, default=default)


def defaults_from(schema: dict) -> dict:
    """The ``default`` of each top-level property of an object schema."""
    return {name: prop["default"] for name, prop in schema.get("properties", {}).items()
            if isinstance(prop, dict) and "default" in prop}


def file_streams(example_glob: str) -> dict:
    """Tabular streams parsed out of files matching globs: each becomes a dynamic entity."""
    csv_options = obj({
        "delimiter": string("Field delimiter.", minLength=1, maxLength=1, default=","),
        "quote_char": string("Quote character.", minLength=1, maxLength=1, default='"'),
        "encoding": string("Text encoding.", minLength=1, default="utf-8"),
        "header": boolean("The first row names the columns.", default=True),
        "skip_rows": integer("Rows skipped before the header.", minimum=0, default=0),
    }, description="CSV/TSV parsing options.")
    stream = obj({
        "name": string("Entity key of the stream (names its warehouse table).",
                       pattern=ENTITY_NAME_PATTERN),
        "globs": string_list(f"Glob patterns of the files to read, e.g. {example_glob!r}.",
                             min_items=1),
        "format": enum(FILE_FORMATS, "File format.", default="csv"),
        "compression": enum(["auto", "none", "gzip", "zstd", "bz2"],
                            "Compression; auto detects it from the file extension.",
                            default="auto"),
        "csv": csv_options,
        "primary_key": string_list("Columns identifying a row (required for upsert)."),
        "load_mode": enum(["append_event", "upsert", "replace"],
                          "How rows are loaded; append_event by default, upsert merges on "
                          "primary_key, replace reloads all matching files.",
                          default="append_event"),
        "cursor_field": string("Column used as the row cursor; by default files are read "
                               "incrementally by their last-modified time "
                               "(_file_last_modified).", minLength=1),
    }, required=["name", "globs"],
        allOf=[{"if": {"properties": {"load_mode": {"const": "upsert"}},
                       "required": ["load_mode"]},
                "then": {"required": ["primary_key"],
                         "properties": {"primary_key": {"minItems": 1}}}}])
    return {"type": "array", "items": stream, "default": [],
            "description": "Tabular streams: the rows of the files matching each stream's "
                           "globs are loaded into the stream's table, with _file_path and "
                           "_file_last_modified columns. Each stream is a dynamic entity."}


def database_tables(default_schema: str, cursor_hint: str) -> tuple[dict, dict]:
    """``tables`` and ``queries`` of a relational database source."""
    table = obj({
        "schema": string("Schema of the table.", minLength=1, default=default_schema),
        "table": string("Table or view name.", minLength=1),
        "name": string("Entity key (default <schema>_<table>, lowercased).",
                       pattern=ENTITY_NAME_PATTERN),
        "columns": string_list("Columns to read (default all)."),
        "cursor_field": string(f"Column read incrementally ({cursor_hint}); omitted: the "
                               "table is re-read in full each run.", minLength=1),
        "primary_key": string_list("Key columns (default: the table's primary key)."),
        "load_mode": enum(["append_event", "upsert", "replace"],
                          "Load mode (default upsert with a key, replace without)."),
        "where": string("Extra SQL predicate applied when reading (e.g. \"deleted = false\")."),
    }, required=["table"])
    query = obj({
        "name": string("Entity key of the query's result.", pattern=ENTITY_NAME_PATTERN),
        "sql": string("A SELECT statement; with a cursor_field, the connector wraps it and "
                      "filters on the cursor.", minLength=1),
        "cursor_field": string("Result column read incrementally.", minLength=1),
        "primary_key": string_list("Key columns of the result."),
        "load_mode": enum(["append_event", "upsert", "replace"], "Load mode."),
    }, required=["name", "sql"])
    return (
        {"type": "array", "items": table, "default": [],
         "description": "Tables to sync (each a dynamic entity); empty: every table of the "
                        "configured schemas, discovered at run time."},
        {"type": "array", "items": query, "default": [],
         "description": "Custom SQL queries, each a dynamic entity."},
    )
