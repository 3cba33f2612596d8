"""PostgreSQL: tables, views and custom queries of a PostgreSQL database (psycopg).

Entities are dynamic: the configured ``tables`` (or, if none, every table and view of the
configured ``schemas``, discovered from ``information_schema`` at run time) and the configured
``queries``. A table with a ``cursor_field`` (an ``updated_at`` timestamp, or an
ever-increasing id/sequence) is read incrementally with ``WHERE cursor > :checkpoint ORDER BY
cursor`` through a server-side cursor; one without is re-read in full. Primary keys default to
the table's own (``pg_index``).
"""

from syncs.providers import schemas as js
from syncs.providers.base import define_provider

TABLES, QUERIES = js.database_tables("public", "e.g. updated_at, or an increasing id")

CONFIG_SCHEMA = js.obj({
    "host": js.hostname("Server host name or IP address."),
    "port": js.port(5432),
    "database": js.string("Database name.", minLength=1),
    "username": js.string("Database user (read-only access is enough).", minLength=1),
    "schemas": js.string_list("Schemas whose tables are discoverable.", min_items=1,
                              default=["public"]),
    "tables": TABLES,
    "queries": QUERIES,
    "sslmode": js.enum(["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
                       "libpq sslmode.", default="prefer"),
    "ssl_root_cert": js.string("CA certificate (PEM) verifying the server (verify-ca, "
                               "verify-full)."),
    "ssl_client_cert": js.string("Client certificate (PEM) for certificate authentication; its "
                                 "key is a secret."),
    "fetch_size": js.integer("Rows fetched per round trip of the server-side cursor.", minimum=1,
                             maximum=100000, default=10000),
    "statement_timeout_seconds": js.integer("statement_timeout of the reading session (0: none).",
                                            minimum=0, default=0),
}, required=["host", "database", "username"], title="PostgreSQL connection", examples=[{
    "host": "db.example.com", "port": 5432, "database": "app", "username": "readonly",
    "tables": [{"schema": "public", "table": "orders", "cursor_field": "updated_at",
                "primary_key": ["id"]}],
}])

SECRETS_SCHEMA = js.obj({
    "password": js.secret("Password of the database user."),
    "ssl_client_key": js.secret("Private key (PEM) of the client certificate."),
}, title="PostgreSQL secrets",
    **{"if": {"required": ["ssl_client_key"]}, "else": {"required": ["password"]}},
    examples=[{"password": "example-password"}])

SPEC = define_provider("postgres", "PostgreSQL",
    "Tables, views and SQL queries of a PostgreSQL database.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, dynamic_resources=True)
