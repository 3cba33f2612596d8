"""Microsoft SQL Server (and Azure SQL): tables, views and custom queries.

Entities are dynamic: the configured ``tables`` (or, if none, every table and view of the
configured ``schemas``, discovered from ``INFORMATION_SCHEMA`` at run time) and the configured
``queries``. A table with a ``cursor_field`` (a ``datetime2`` modification column, or a
``rowversion`` column, which SQL Server bumps on every change) is read incrementally with
``WHERE cursor > @checkpoint ORDER BY cursor``; one without is re-read in full. Connections use
TDS with TLS (``encrypt``), SQL authentication by default or an Entra ID service principal for
Azure SQL.
"""

from syncs.providers import schemas as js
from syncs.providers.base import define_provider

TABLES, QUERIES = js.database_tables("dbo", "e.g. a datetime2 ModifiedDate or a rowversion column")

CONFIG_SCHEMA = js.obj({
    "host": js.hostname("Server host name (Azure SQL: <server>.database.windows.net)."),
    "port": js.port(1433),
    "database": js.string("Database name.", minLength=1),
    "username": js.string("Login (SQL authentication) or the service principal's client id "
                          "(entra_service_principal).", minLength=1),
    "authentication": js.enum(["sql", "entra_service_principal"], "Authentication method.",
                              default="sql"),
    "tenant_id": js.string("Entra ID tenant (entra_service_principal).", minLength=1),
    "schemas": js.string_list("Schemas whose tables are discoverable.", min_items=1,
                              default=["dbo"]),
    "tables": TABLES,
    "queries": QUERIES,
    "encrypt": js.boolean("Encrypt the connection (TLS).", default=True),
    "trust_server_certificate": js.boolean("Accept the server's certificate without "
                                           "validation.", default=False),
    "application_intent": js.enum(["ReadOnly", "ReadWrite"], "ApplicationIntent (ReadOnly "
                                  "routes to readable secondaries).", default="ReadOnly"),
    "fetch_size": js.integer("Rows fetched per round trip.", minimum=1, maximum=100000,
                             default=10000),
}, required=["host", "database", "username"], title="SQL Server connection", examples=[{
    "host": "sql.example.com", "port": 1433, "database": "erp", "username": "reader",
    "tables": [{"schema": "dbo", "table": "SalesOrderHeader", "cursor_field": "ModifiedDate",
                "primary_key": ["SalesOrderID"]}],
}], allOf=[{"if": {"properties": {"authentication": {"const": "entra_service_principal"}},
                   "required": ["authentication"]},
            "then": {"required": ["tenant_id"]}}])

SECRETS_SCHEMA = js.obj({
    "password": js.secret("Password of the login, or the service principal's client secret."),
}, required=["password"], title="SQL Server secrets",
    examples=[{"password": "example-password"}])

SPEC = define_provider("sqlserver", "SQL Server",
    "Tables, views and SQL queries of a Microsoft SQL Server or Azure SQL database.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, dynamic_resources=True)
