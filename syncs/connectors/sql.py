"""Relational sources: PostgreSQL (psycopg 3) and SQL Server (pyodbc or pymssql), one engine.

Entities are the configured ``tables`` (entity key ``name``, default ``<schema>_<table>``
lowercased) and ``queries`` (entity key ``name``); with no ``tables`` configured, every table
and view of the configured ``schemas`` is an entity, discovered at read time. A table or query
with a ``cursor_field`` is read incrementally::

    SELECT ... FROM "schema"."table" WHERE ("where") AND "cursor" > %s ORDER BY "cursor"

(a query is wrapped: ``SELECT * FROM (<sql>) AS _q WHERE ...``); without one, or with
``load_mode: replace``, it is re-read in full. Rows are streamed through a server-side cursor
(PostgreSQL: a named cursor, ``fetchmany(fetch_size)``). Each batch's cursor is the greatest
cursor value all of whose rows have been read: rows sharing the last value of a batch are
carried over to the next one, so a resumed read never skips a row.

Identifiers are always quoted (``psycopg.sql.Identifier``; ``[...]`` on SQL Server), never
formatted into the SQL; values are bound parameters. Values are made JSON-friendly: datetimes,
dates and times become ISO 8601 strings, Decimals strings (exact), UUIDs strings, bytes
``0x``-prefixed hex, intervals seconds. The cursor reached is converted the same way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from syncs.connectors.sources import (
    Batch,
    CheckDeadline,
    CheckFailed,
    ConnectorUnavailable,
    register_source,
)

# pymssql (its wheels bundle FreeTDS) is a runtime dependency: missing, the install is broken.
SQLSERVER_MISSING = ("the SQL Server driver pymssql is not installed (a runtime dependency of "
                     "syncservice): pip install 'pymssql>=2.3,<3'")
CONNECT_TIMEOUT = 15
_ENTITY_CHARS = re.compile(r"[^a-z0-9_]+")
_HEX_CURSOR = re.compile(r"^0x([0-9a-f]{2})+$")
_DBLIB_HEADER = re.compile(r"^DB-Lib error message \d+, severity \d+:?$")


# --- values -----------------------------------------------------------------------------------

def jsonable(value: Any) -> Any:
    """``value`` as a JSON-serializable value (see the module docstring)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "0x" + bytes(value).hex()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


def entity_key(schema: str, table: str) -> str:
    return _ENTITY_CHARS.sub("_", f"{schema}_{table}".lower()).strip("_") or "table"


# --- statements: one neutral form, rendered per dialect -----------------------------------------

@dataclass(frozen=True)
class Ident:
    parts: tuple[str, ...]


@dataclass(frozen=True)
class UserSql:
    """SQL text written by the user (a query, a where predicate): inserted as is."""
    text: str


@dataclass(frozen=True)
class Param:
    value: Any


Token = str | Ident | UserSql | Param


def ident(*parts: str) -> Ident:
    return Ident(tuple(p for p in parts if p))


@dataclass
class Entity:
    name: str
    schema: str = ""
    table: str = ""
    sql: str = ""
    columns: list[str] = field(default_factory=list)
    cursor_field: str | None = None
    where: str = ""
    load_mode: str | None = None

    @property
    def incremental(self) -> bool:
        return bool(self.cursor_field) and self.load_mode != "replace"


def select_tokens(entity: Entity, cursor: Any, window: tuple | None,
                  nulls_first: bool) -> list[Token]:
    columns = list(entity.columns)
    if columns and entity.cursor_field and entity.cursor_field not in columns:
        columns.append(entity.cursor_field)
    tokens: list[Token] = ["SELECT "]
    if columns:
        for index, column in enumerate(columns):
            tokens += [", "] if index else []
            tokens.append(ident(column))
    else:
        tokens.append("*")
    tokens.append(" FROM ")
    if entity.sql:
        tokens += ["(", UserSql(entity.sql.strip().rstrip(";")), ") AS _q"]
    else:
        tokens.append(ident(entity.schema, entity.table))
    conditions: list[list[Token]] = []
    if entity.where:
        conditions.append(["(", UserSql(entity.where), ")"])
    if entity.incremental:
        column = ident(entity.cursor_field)
        if window is not None:
            conditions.append([column, " > ", Param(window[0]), " AND ", column, " <= ",
                               Param(window[1])])
        elif cursor is not None:
            conditions.append([column, " > ", Param(cursor)])
    for index, condition in enumerate(conditions):
        tokens.append(" AND " if index else " WHERE ")
        tokens += condition
    if entity.cursor_field:
        tokens += [" ORDER BY ", ident(entity.cursor_field),
                   " ASC NULLS FIRST" if nulls_first else " ASC"]
    return tokens


# --- dialects -----------------------------------------------------------------------------------

class Dialect:
    key = ""
    display_name = ""
    default_schema = ""
    nulls_first = False

    def __init__(self, config: dict, secrets: dict) -> None:
        self.config = config
        self.secrets = secrets
        # Set while a check runs: connecting, logging in and its query end by then.
        self.deadline: CheckDeadline | None = None

    def connect(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def render(self, tokens: list[Token]) -> tuple[Any, Any]:  # pragma: no cover
        raise NotImplementedError

    def stream_cursor(self, conn):
        return conn.cursor()

    def discovery_tokens(self, schemas: list[str]) -> list[Token]:
        # Upper case: SQL Server databases with a case-sensitive collation need it, and
        # PostgreSQL folds it to the lower-case names of its information_schema.
        tokens: list[Token] = ["SELECT TABLE_SCHEMA, TABLE_NAME FROM INFORMATION_SCHEMA.TABLES "
                               "WHERE TABLE_TYPE IN ('BASE TABLE', 'VIEW') AND TABLE_SCHEMA IN ("]
        for index, schema in enumerate(schemas):
            tokens += [", "] if index else []
            tokens.append(Param(schema))
        tokens.append(") ORDER BY TABLE_SCHEMA, TABLE_NAME")
        return tokens

    def cursor_param(self, cursor: Any) -> Any:
        return cursor

    def close(self) -> None:
        pass

    def where(self) -> str:
        host, port = self.config.get("host"), self.config.get("port")
        return f"{self.display_name} at {host}:{port}, database {self.config.get('database')!r}"

    def pinned_host(self, host: str, port: int) -> dict:
        """libpq's ``host`` and ``hostaddr`` for ``host``: resolved once, every address
        checked by the SSRF guard, and libpq connects to those addresses (in the resolver's
        order) without resolving the name again — a DNS answer that changes after the check
        (rebinding) is never used. The name stays ``host``: TLS (``verify-full``) checks the
        certificate against it."""
        from syncservice import netguard

        try:
            addresses = netguard.checked_addresses(host, port)
        except netguard.UnsafeDestination as exc:
            raise CheckFailed(str(exc)) from None
        except (OSError, UnicodeError) as exc:
            raise CheckFailed(f"Cannot connect to {self.where()}: cannot resolve {host!r} "
                              f"({exc}).") from None
        return {"host": ",".join([host] * len(addresses)), "hostaddr": ",".join(addresses)}

    def connect_timeout(self, minimum: int = 1) -> int:
        """The driver's connect (login) timeout in whole seconds: ``CONNECT_TIMEOUT``, during
        a check at most what is left of it (rounded up)."""
        if self.deadline is None:
            return CONNECT_TIMEOUT
        return self.deadline.whole_seconds(CONNECT_TIMEOUT, minimum=minimum, what=self.where())

    def connect_error(self, exc: BaseException) -> CheckFailed:
        """A connection failure as a user-facing message with no secret in it (during a
        check past its deadline: that the server did not answer in time)."""
        # pymssql errors hold ((code, bytes),); psycopg and pyodbc ones text.
        args = [a for arg in getattr(exc, "args", ())
                for a in (arg if isinstance(arg, tuple) else (arg,))]
        parts = [a.decode("utf-8", "replace") if isinstance(a, bytes) else a
                 for a in args if isinstance(a, (str, bytes))]
        text = scrub("\n".join(parts) or str(exc), self.secrets)
        lines = list(dict.fromkeys(
            line.strip() for line in text.splitlines()
            if line.strip() and not _DBLIB_HEADER.match(line.strip())))
        preferred = [line for line in lines if "FATAL" in line or "failed" in line.lower()]
        detail = "; ".join((preferred or lines)[:2]).rstrip(".") or type(exc).__name__
        user = self.config.get("username")
        if self.deadline is not None and self.deadline.expired():
            return self.deadline.exceeded(f"{self.where()} (as {user!r})", detail)
        hint = ""
        if "password" in text.lower() or "login failed" in text.lower() or "28P01" in text:
            hint = f" The password of {user!r} was rejected: check the password."
        return CheckFailed(f"Cannot connect to {self.where()} as {user!r}: {detail}.{hint}")


def scrub(text: str, secrets: dict) -> str:
    for value in secrets.values():
        if isinstance(value, str) and len(value) >= 3:
            text = text.replace(value, "***")
    return text


class PostgresDialect(Dialect):
    key = "postgres"
    display_name = "PostgreSQL"
    default_schema = "public"
    nulls_first = True

    def __init__(self, config: dict, secrets: dict) -> None:
        super().__init__(config, secrets)
        self._tempdir: tempfile.TemporaryDirectory | None = None

    def _pem_file(self, name: str, content: str) -> str:
        if self._tempdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="syncs-pg-")
        path = os.path.join(self._tempdir.name, name)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(content)
        return path

    def connect(self):
        import psycopg

        config = self.config
        host, port = config["host"], int(config.get("port") or 5432)
        pinned = self.pinned_host(host, port)
        params = {
            "port": port, "dbname": config["database"], "user": config["username"],
            "sslmode": config.get("sslmode") or "prefer", "application_name": "syncservice",
        }
        if self.secrets.get("password"):
            params["password"] = self.secrets["password"]
        if config.get("ssl_root_cert"):
            params["sslrootcert"] = self._pem_file("root.crt", config["ssl_root_cert"])
        if config.get("ssl_client_cert"):
            params["sslcert"] = self._pem_file("client.crt", config["ssl_client_cert"])
        if self.secrets.get("ssl_client_key"):
            params["sslkey"] = self._pem_file("client.key", self.secrets["ssl_client_key"])
        # libpq's connect_timeout applies to each address: during a check the addresses are
        # tried one at a time, each with what is left (libpq: whole seconds, at least 2).
        attempts = [pinned] if self.deadline is None else [
            {"host": host, "hostaddr": address} for address in pinned["hostaddr"].split(",")]
        error: psycopg.Error | None = None
        for attempt in attempts:
            if error is not None and self.deadline.expired():
                break
            try:
                conn = psycopg.connect(**params, **attempt,
                                       connect_timeout=self.connect_timeout(minimum=2),
                                       options=" ".join(self.options()))
            except psycopg.Error as exc:
                error = exc
                continue
            conn.read_only = True
            return conn
        raise self.connect_error(error) from None

    def options(self) -> list[str]:
        """The session's settings: UTC, and the configured statement timeout (during a check
        at most what is left of it)."""
        options = ["-c TimeZone=UTC"]
        timeout_ms = int(self.config.get("statement_timeout_seconds") or 0) * 1000
        if self.deadline is not None:
            left_ms = math.ceil(self.deadline.timeout(what=self.where()) * 1000)
            timeout_ms = min(timeout_ms, left_ms) if timeout_ms else left_ms
        if timeout_ms:
            options.append(f"-c statement_timeout={timeout_ms}")
        return options

    def render(self, tokens: list[Token]) -> tuple[Any, list]:
        from psycopg import sql

        parts, params = [], []
        for token in tokens:
            if isinstance(token, Ident):
                parts.append(sql.Identifier(*token.parts))
            elif isinstance(token, UserSql):
                # Parameters are always bound, so a literal % must be doubled.
                parts.append(sql.SQL(token.text.replace("%", "%%")))
            elif isinstance(token, Param):
                parts.append(sql.SQL("%s"))
                params.append(token.value)
            else:
                parts.append(sql.SQL(token))
        return sql.Composed(parts), params

    def stream_cursor(self, conn):
        return conn.cursor(name=f"syncs_{uuid.uuid4().hex[:12]}")

    def close(self) -> None:
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None


PYMSSQL_CANNOT_VERIFY = (
    "The SQL Server driver installed here (pymssql, FreeTDS) encrypts the connection but cannot "
    "verify the server's certificate: set trust_server_certificate to true to accept it "
    "unverified (as ODBC's TrustServerCertificate=yes), or install pyodbc and Microsoft ODBC "
    "Driver 18 for SQL Server to verify it.")


def sqlserver_driver() -> tuple[str, Any, str | None]:
    """(kind, module, odbc driver name) of an installed SQL Server driver."""
    try:
        import pyodbc
    except ImportError:
        pyodbc = None
    if pyodbc is not None:
        drivers = sorted(d for d in pyodbc.drivers() if "SQL Server" in d)
        if drivers:
            return "pyodbc", pyodbc, drivers[-1]
    try:
        import pymssql
    except ImportError:
        raise ConnectorUnavailable(SQLSERVER_MISSING) from None
    return "pymssql", pymssql, None


def _odbc_value(value: Any) -> str:
    return "{" + str(value).replace("}", "}}") + "}"


class SqlServerDialect(Dialect):
    key = "sqlserver"
    display_name = "SQL Server"
    default_schema = "dbo"

    def __init__(self, config: dict, secrets: dict) -> None:
        super().__init__(config, secrets)
        self.kind, self.module, self.odbc_driver = sqlserver_driver()

    def connect(self):
        config = self.config
        port = int(config.get("port") or 1433)
        entra = config.get("authentication") == "entra_service_principal"
        # The first checked address (see ``pinned_host``): the drivers connect to it, never
        # resolving the name again; the ODBC driver checks the certificate against the name.
        pinned = self.pinned_host(config["host"], port)
        address = pinned["hostaddr"].split(",")[0]
        try:
            if self.kind == "pyodbc":
                parts = {
                    "DRIVER": _odbc_value(self.odbc_driver),
                    "SERVER": _odbc_value(f"{address},{port}"),
                    "HostNameInCertificate": _odbc_value(config["host"]),
                    "DATABASE": _odbc_value(config["database"]),
                    "UID": _odbc_value(config["username"]),
                    "PWD": _odbc_value(self.secrets.get("password", "")),
                    "Encrypt": "yes" if config.get("encrypt", True) else "no",
                    "TrustServerCertificate":
                        "yes" if config.get("trust_server_certificate") else "no",
                    "ApplicationIntent": config.get("application_intent") or "ReadOnly",
                    "APP": "syncservice",
                }
                if entra:
                    parts["Authentication"] = "ActiveDirectoryServicePrincipal"
                conn_str = ";".join(f"{k}={v}" for k, v in parts.items())
                conn = self.module.connect(conn_str, timeout=self.connect_timeout(),
                                           readonly=True)
                if self.deadline is not None:  # the check's query too
                    conn.timeout = self.deadline.whole_seconds(what=self.where())
                return conn
            if entra:
                raise CheckFailed("Entra ID service principal authentication needs the ODBC "
                                  "driver (pyodbc with Microsoft ODBC Driver 18 for SQL "
                                  "Server); pymssql supports SQL authentication only.")
            # FreeTDS encrypts when asked but checks no certificate (pymssql configures no CA
            # file): a connection that asks for a verified server is refused, never silently
            # downgraded to an unverified one.
            if config.get("encrypt", True) and not config.get("trust_server_certificate"):
                raise CheckFailed(PYMSSQL_CANNOT_VERIFY)
            bounded: dict = {}
            if self.deadline is not None:
                # A check's query ends by its deadline too; and it logs in once: FreeTDS's
                # automatic version, after a 7.4 login that failed (timed out), tries again
                # as TDS 5.0 (Sybase), waiting more than the login timeout again. SQL Server
                # takes a 7.4 login whatever its version (it answers with its own).
                bounded = {"timeout": self.deadline.whole_seconds(what=self.where()),
                           "tds_version": "7.4"}
            return self.module.connect(
                server=address, port=str(port), user=config["username"],
                password=self.secrets.get("password", ""), database=config["database"],
                login_timeout=self.connect_timeout(), appname="syncservice",
                encryption="require" if config.get("encrypt", True) else "off", **bounded)
        except CheckFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - each driver has its own error classes
            raise self.connect_error(exc) from None

    def render(self, tokens: list[Token]) -> tuple[Any, list]:
        placeholder = "?" if self.kind == "pyodbc" else "%s"
        parts, params = [], []
        for token in tokens:
            if isinstance(token, Ident):
                parts.append(".".join("[" + p.replace("]", "]]") + "]" for p in token.parts))
            elif isinstance(token, UserSql):
                parts.append(token.text.replace("%", "%%") if placeholder == "%s"
                             else token.text)
            elif isinstance(token, Param):
                parts.append(placeholder)
                params.append(token.value)
            else:
                parts.append(token)
        return "".join(parts), tuple(params)  # pymssql wants a tuple (pyodbc takes one too)

    def cursor_param(self, cursor: Any) -> Any:
        # A rowversion cursor was stored as 0x-hex: bind it back as bytes.
        if isinstance(cursor, str) and _HEX_CURSOR.match(cursor):
            return bytes.fromhex(cursor[2:])
        return cursor


# --- the source ---------------------------------------------------------------------------------

class SqlSource:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.config = dialect.config
        self.fetch_size = int(self.config.get("fetch_size") or 10000)

    # --- entities ---------------------------------------------------------------------------------
    def configured_entities(self) -> dict[str, Entity]:
        entities: dict[str, Entity] = {}
        for table in self.config.get("tables") or []:
            schema = table.get("schema") or self.dialect.default_schema
            name = table.get("name") or entity_key(schema, table["table"])
            entities[name] = Entity(
                name=name, schema=schema, table=table["table"],
                columns=list(table.get("columns") or []),
                cursor_field=table.get("cursor_field"), where=table.get("where") or "",
                load_mode=table.get("load_mode"))
        for query in self.config.get("queries") or []:
            entities[query["name"]] = Entity(
                name=query["name"], sql=query["sql"], cursor_field=query.get("cursor_field"),
                load_mode=query.get("load_mode"))
        return entities

    def discover(self, conn) -> dict[str, Entity]:
        schemas = list(self.config.get("schemas") or [self.dialect.default_schema])
        query, params = self.dialect.render(self.dialect.discovery_tokens(schemas))
        cursor = conn.cursor()
        try:
            cursor.execute(query, params)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return {entity_key(s, t): Entity(name=entity_key(s, t), schema=s, table=t)
                for s, t in rows}

    def entity(self, name: str, conn) -> Entity:
        entities = self.configured_entities()
        if not self.config.get("tables"):
            entities = {**self.discover(conn), **entities}
        if name not in entities:
            raise KeyError(f"{self.dialect.key} has no table or query {name!r}; entities: "
                           f"{', '.join(sorted(entities)) or 'none'}")
        return entities[name]

    # --- check ------------------------------------------------------------------------------------
    def check(self, deadline: CheckDeadline | None = None) -> None:
        self.dialect.deadline = deadline = deadline or CheckDeadline.start()
        try:
            conn = self.dialect.connect()
            try:
                cursor = conn.cursor()
                cursor.execute("SELECT 1")
                cursor.fetchall()
            finally:
                conn.close()
        except CheckFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the user, scrubbed
            detail = scrub(str(exc), self.dialect.secrets)
            if deadline.expired():  # the query cut short by the statement timeout
                raise deadline.exceeded(self.dialect.where(), detail) from None
            raise CheckFailed(f"{self.dialect.where()}: {detail}") from None
        finally:
            self.dialect.deadline = None
            self.dialect.close()

    # --- reading ----------------------------------------------------------------------------------
    def read(self, entity: str, *, cursor: Any = None, window: tuple | None = None,
             entity_config: dict | None = None) -> Iterator[Batch]:
        conn = self.dialect.connect()
        try:
            spec = self.entity(entity, conn)
            if not spec.incremental:
                cursor, window = None, None
            elif cursor is not None:
                cursor = self.dialect.cursor_param(cursor)
            tokens = select_tokens(spec, cursor, window, self.dialect.nulls_first)
            query, params = self.dialect.render(tokens)
            stream = self.dialect.stream_cursor(conn)
            try:
                stream.execute(query, params)
                yield from self._batches(stream, spec, cursor)
            finally:
                with contextlib.suppress(Exception):
                    stream.close()
        finally:
            with contextlib.suppress(Exception):
                conn.rollback()
            with contextlib.suppress(Exception):
                conn.close()
            self.dialect.close()

    def _batches(self, stream, spec: Entity, cursor: Any) -> Iterator[Batch]:
        names = [d[0] for d in stream.description]
        position = None
        if spec.cursor_field:
            lowered = [n.lower() for n in names]
            if spec.cursor_field in names:
                position = names.index(spec.cursor_field)
            elif spec.cursor_field.lower() in lowered:
                position = lowered.index(spec.cursor_field.lower())
            else:
                raise KeyError(f"{spec.name}: the cursor_field {spec.cursor_field!r} is not a "
                               f"column of the result ({', '.join(names)})")
        reached = jsonable(cursor) if spec.incremental else None

        def records(rows: list) -> list[dict]:
            return [{name: jsonable(value) for name, value in zip(names, row, strict=True)}
                    for row in rows]

        pending: list = []
        while True:
            rows = stream.fetchmany(self.fetch_size)
            pending.extend(rows)
            if len(rows) < self.fetch_size:  # the end of the result
                if pending:
                    if position is not None and pending[-1][position] is not None:
                        reached = jsonable(pending[-1][position])
                    yield Batch(records=records(pending), cursor=reached)
                return
            if position is None:
                yield Batch(records=records(pending), cursor=None)
                pending = []
                continue
            # Rows sharing the last cursor value may go on in the next fetch: keep them for
            # the next batch so the checkpoint never lands in the middle of a value.
            last = pending[-1][position]
            split = len(pending)
            while split and pending[split - 1][position] == last:
                split -= 1
            if split == 0:
                if len(pending) < 10 * self.fetch_size:
                    continue
                # A huge run of one value: write it, without moving the checkpoint.
                yield Batch(records=records(pending), cursor=reached)
                pending = []
                continue
            done, pending = pending[:split], pending[split:]
            if done[-1][position] is not None:
                reached = jsonable(done[-1][position])
            yield Batch(records=records(done), cursor=reached)


def _with_defaults(provider: str, config: dict) -> dict:
    from syncs.providers import base

    spec = base.get_provider(provider)
    return spec.with_defaults(config) if spec else dict(config)


@register_source("postgres")
def postgres_source(config: dict, secrets: dict) -> SqlSource:
    return SqlSource(PostgresDialect(_with_defaults("postgres", config), secrets or {}))


@register_source("sqlserver")
def sqlserver_source(config: dict, secrets: dict) -> SqlSource:
    return SqlSource(SqlServerDialect(_with_defaults("sqlserver", config), secrets or {}))
