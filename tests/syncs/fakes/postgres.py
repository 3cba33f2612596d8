"""A PostgreSQL server that rejects every password: it speaks just enough of the wire
protocol to ask for a cleartext password and answer 28P01 (the local test server trusts every
login, so it cannot refuse one itself)."""

from __future__ import annotations

import struct

from tests.syncs.fakes.tcp import TcpFake, receive


class RejectingPostgres(TcpFake):
    """Speaks just enough of the PostgreSQL protocol to ask for a cleartext password and
    reject it with 28P01, as a server with password authentication does."""

    def __init__(self) -> None:
        self.passwords: list[str] = []
        super().__init__()

    def handle(self, client) -> None:
        while True:
            length = struct.unpack("!I", receive(client, 4))[0]
            payload = receive(client, length - 4)
            if struct.unpack("!I", payload[:4])[0] in (80877103, 80877104):  # SSL/GSS request
                client.sendall(b"N")
                continue
            break
        client.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
        receive(client, 1)
        length = struct.unpack("!I", receive(client, 4))[0]
        self.passwords.append(receive(client, length - 4).rstrip(b"\0").decode())
        fields = (b"SFATAL\0VFATAL\0C28P01\0"
                  b"Mpassword authentication failed for user \"reader\"\0\0")
        client.sendall(b"E" + struct.pack("!I", len(fields) + 4) + fields)
