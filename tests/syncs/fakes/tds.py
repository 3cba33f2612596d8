"""A minimal SQL Server speaking TDS 7.x, unencrypted, for the sqlserver connector's e2e test.

It answers just what pymssql (FreeTDS) sends: PRELOGIN (encryption not supported, so the whole
session stays in clear text), LOGIN7 (SQL authentication: a wrong password gets error 18456,
as SQL Server answers), and SQL_BATCH: ``SELECT 1`` (the check), ``SELECT * FROM
[schema].[table] [WHERE [col] > <literal>] ORDER BY [col] ASC`` over tables held in Python
(pymssql interpolates parameters into the SQL text client side), and ``DONE`` for every other
statement (the SET options, ``use [db]``, transaction statements pymssql issues). Every
statement received is kept in ``statements``.

Column types are the simplest FreeTDS maps well: INTN (int), NVARCHAR (str), DATETIMN
(datetime, 1/300 s) and FLTN (float). Formats differing between TDS 7.1 and 7.2+ (the UserType
width, DONE's row count, ERROR's line number, ALL_HEADERS) follow the client's LOGIN7 version.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import struct
import threading
from dataclasses import dataclass, field

from tests.syncs.fakes.tcp import TcpFake, receive

# Packet types (MS-TDS 2.2.3.1.1).
SQL_BATCH, TABULAR, ATTENTION, LOGIN7, PRELOGIN = 0x01, 0x04, 0x06, 0x10, 0x12
EOM = 0x01
PACKET_SIZE = 4096
# Latin1_General_CI_AS: LCID 0x0409, flags, sort id 52.
COLLATION = bytes([0x09, 0x04, 0xD0, 0x00, 0x34])
LOGIN_FAILED = 18456
EPOCH = dt.datetime(1900, 1, 1)

_SELECT = re.compile(
    r"^\s*SELECT\s+\*\s+FROM\s+\[(?P<schema>[^\]]+)\]\.\[(?P<table>[^\]]+)\]"
    r"(?:\s+WHERE\s+\[(?P<column>[^\]]+)\]\s*>\s*N?'(?P<value>[^']*)')?"
    r"(?:\s+ORDER\s+BY\s+\[(?P<order>[^\]]+)\]\s+ASC)?\s*;?\s*$", re.IGNORECASE | re.DOTALL)


def ucs2(text: str) -> bytes:
    return text.encode("utf-16-le")


def b_varchar(text: str) -> bytes:
    """A string prefixed with its length in characters (one byte)."""
    return bytes([len(text)]) + ucs2(text)


def us_varchar(text: str) -> bytes:
    return struct.pack("<H", len(text)) + ucs2(text)


def deobfuscate(data: bytes) -> str:
    """LOGIN7's password: each byte was nibble-swapped then XORed with 0xA5 (2.2.6.4)."""
    plain = bytes((((b ^ 0xA5) << 4) & 0xF0) | ((b ^ 0xA5) >> 4) for b in data)
    return plain.decode("utf-16-le")


@dataclass
class Table:
    """A table of the fake: ``columns`` as (name, python type) pairs, rows as tuples."""
    columns: list[tuple[str, type]]
    rows: list[tuple] = field(default_factory=list)


class FakeSqlServer(TcpFake):
    """Accepts ``username``/``password`` (SQL authentication) and serves ``tables``, keyed by
    (schema, table); ``statements`` and ``logins`` record what the clients sent."""

    def __init__(self, username: str, password: str, tables: dict[tuple[str, str], Table]):
        self.username, self.password, self.tables = username, password, tables
        self.statements: list[str] = []
        self.logins: list[tuple[str, bool]] = []  # (user, accepted)
        self.lock = threading.Lock()
        super().__init__()

    def handle(self, client: socket.socket) -> None:
        Session(self, client).run()


class Session:
    """One client connection: PRELOGIN, LOGIN7, then SQL batches until the client leaves."""

    def __init__(self, server: FakeSqlServer, client: socket.socket) -> None:
        self.server, self.client = server, client
        self.tds72 = True  # until LOGIN7 says otherwise

    def receive(self, size: int) -> bytes:
        return receive(self.client, size)

    def message(self) -> tuple[int, bytes]:
        """One message: the payloads of packets up to the one marked end-of-message."""
        payload, kind = b"", 0
        while True:
            kind, status, length = struct.unpack(">BBH", self.receive(4))
            self.receive(4)  # spid, packet id, window
            payload += self.receive(length - 8)
            if status & EOM:
                return kind, payload

    def send(self, payload: bytes) -> None:
        size = PACKET_SIZE - 8
        chunks = [payload[i:i + size] for i in range(0, len(payload), size)] or [b""]
        for number, chunk in enumerate(chunks, 1):
            status = EOM if number == len(chunks) else 0
            header = struct.pack(">BBHHBB", TABULAR, status, len(chunk) + 8, 0, number % 256, 0)
            self.client.sendall(header + chunk)

    # --- tokens ----------------------------------------------------------------------------------
    def done(self, status: int = 0, count: int | None = None) -> bytes:
        status |= 0x10 if count is not None else 0  # DONE_COUNT: the row count is valid
        rows = struct.pack("<Q" if self.tds72 else "<I", count or 0)
        return struct.pack("<BHH", 0xFD, status, 0xC1) + rows

    def error(self, number: int, text: str) -> bytes:
        line = struct.pack("<I" if self.tds72 else "<H", 1)
        body = (struct.pack("<IBB", number, 1, 14) + us_varchar(text) + b_varchar("fake")
                + b_varchar("") + line)
        return struct.pack("<BH", 0xAA, len(body)) + body

    @staticmethod
    def envchange(kind: int, new: bytes, old: bytes = b"\x00") -> bytes:
        body = bytes([kind]) + new + old
        return struct.pack("<BH", 0xE3, len(body)) + body

    def colmetadata(self, columns: list[tuple[str, type]]) -> bytes:
        out = struct.pack("<BH", 0x81, len(columns))  # COLMETADATA
        for name, kind in columns:
            out += struct.pack("<I" if self.tds72 else "<H", 0) + struct.pack("<H", 0x0001)
            if kind is int:
                out += bytes([0x26, 4])  # INTN(4)
            elif kind is float:
                out += bytes([0x6D, 8])  # FLTN(8)
            elif kind is dt.datetime:
                out += bytes([0x6F, 8])  # DATETIMN(8)
            else:
                out += bytes([0xE7]) + struct.pack("<H", 8000) + COLLATION  # NVARCHAR(4000)
            out += b_varchar(name)
        return out

    @staticmethod
    def row(columns: list[tuple[str, type]], values: tuple) -> bytes:
        out = b"\xD1"
        for (_, kind), value in zip(columns, values, strict=True):
            if kind is str:
                # NVARCHAR: a length in bytes (0xFFFF for NULL), then UCS-2.
                data = b"" if value is None else ucs2(value)
                out += b"\xFF\xFF" if value is None else struct.pack("<H", len(data)) + data
            elif value is None:
                out += b"\x00"
            elif kind is int:
                out += b"\x04" + struct.pack("<i", value)
            elif kind is float:
                out += b"\x08" + struct.pack("<d", value)
            else:  # DATETIME: days since 1900-01-01, then 1/300 s since midnight
                delta = value - EPOCH
                ticks = round((delta.seconds + delta.microseconds / 1e6) * 300)
                out += b"\x08" + struct.pack("<iI", delta.days, ticks)
        return out

    # --- exchanges -------------------------------------------------------------------------------
    def run(self) -> None:
        kind, _ = self.message()
        if kind != PRELOGIN:
            return
        self.send(self.prelogin())
        kind, login = self.message()
        if kind != LOGIN7 or not self.login(login):
            return
        while True:
            kind, payload = self.message()
            if kind == SQL_BATCH:
                self.send(self.batch(payload))
            elif kind == ATTENTION:
                self.send(self.done(0x20))  # DONE_ATTN: the cancel is acknowledged
            else:
                self.send(self.error(50000, f"the fake SQL Server handles no packet type "
                                            f"{kind:#x}") + self.done(0x02))

    @staticmethod
    def prelogin() -> bytes:
        # Options: VERSION (6 bytes), ENCRYPTION (1 byte: 2 = ENCRYPT_NOT_SUP), terminator.
        options = [(0x00, bytes([16, 0, 0x10, 0x00, 0, 0])), (0x01, b"\x02")]
        offset = len(options) * 5 + 1
        head, data = b"", b""
        for token, value in options:
            head += struct.pack(">BHH", token, offset + len(data), len(value))
            data += value
        return head + b"\xFF" + data

    def login(self, payload: bytes) -> bool:
        version = struct.unpack("<I", payload[4:8])[0]
        self.tds72 = version >= 0x72000000

        def field_at(position: int) -> bytes:
            offset, length = struct.unpack("<HH", payload[position:position + 4])
            return payload[offset:offset + 2 * length]

        user = field_at(40).decode("utf-16-le")
        password = deobfuscate(field_at(44))
        database = field_at(68).decode("utf-16-le") or "master"
        accepted = (user, password) == (self.server.username, self.server.password)
        with self.server.lock:
            self.server.logins.append((user, accepted))
        if not accepted:
            self.send(self.error(LOGIN_FAILED, f"Login failed for user '{user}'.")
                      + self.done(0x02))
            return False
        program = b_varchar("Microsoft SQL Server")
        loginack = (b"\x01" + struct.pack(">I", version) + program + bytes([16, 0, 0x10, 0x00]))
        self.send(
            self.envchange(1, b_varchar(database), b_varchar("master"))
            + self.envchange(7, bytes([len(COLLATION)]) + COLLATION)
            + self.envchange(4, b_varchar(str(PACKET_SIZE)), b_varchar(str(PACKET_SIZE)))
            + struct.pack("<BH", 0xAD, len(loginack)) + loginack
            + self.done())
        return True

    def batch(self, payload: bytes) -> bytes:
        if self.tds72:  # ALL_HEADERS (transaction descriptor ...) come first
            payload = payload[struct.unpack("<I", payload[:4])[0]:]
        sql = payload.decode("utf-16-le")
        with self.server.lock:
            self.server.statements.append(sql)
        if re.fullmatch(r"\s*SELECT\s+1\s*;?\s*", sql, re.IGNORECASE):
            columns = [("", int)]
            return self.colmetadata(columns) + self.row(columns, (1,)) + self.done(count=1)
        if not sql.lstrip().upper().startswith("SELECT"):
            return self.done()  # SET options, use [db], transaction statements
        match = _SELECT.match(sql)
        table = match and self.server.tables.get((match["schema"], match["table"]))
        if table is None:
            return self.error(208, f"Invalid object name or unsupported statement: {sql}") \
                + self.done(0x02)
        names = [name for name, _ in table.columns]
        with self.server.lock:
            rows = list(table.rows)
        if match["column"]:
            position = names.index(match["column"])
            since = dt.datetime.fromisoformat(match["value"])
            rows = [r for r in rows if r[position] is not None and r[position] > since]
        if match["order"]:
            position = names.index(match["order"])
            rows.sort(key=lambda r: (r[position] is not None, r[position] or 0))
        body = self.colmetadata(table.columns)
        for values in rows:
            body += self.row(table.columns, values)
        return body + self.done(count=len(rows))
