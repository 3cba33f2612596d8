"""A PostgreSQL server that rejects every password: it speaks just enough of the wire
protocol to ask for a cleartext password and answer 28P01 (the local test server trusts every
login, so it cannot refuse one itself)."""

from __future__ import annotations

import socket
import struct
import threading


class RejectingPostgres:
    """Speaks just enough of the PostgreSQL protocol to ask for a cleartext password and
    reject it with 28P01, as a server with password authentication does."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.passwords: list[str] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            with client:
                client.settimeout(5)
                try:
                    self.handle(client)
                except (OSError, struct.error):
                    pass

    @staticmethod
    def receive(client, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = client.recv(size - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        return data

    def handle(self, client) -> None:
        while True:
            length = struct.unpack("!I", self.receive(client, 4))[0]
            payload = self.receive(client, length - 4)
            if struct.unpack("!I", payload[:4])[0] in (80877103, 80877104):  # SSL/GSS request
                client.sendall(b"N")
                continue
            break
        client.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
        self.receive(client, 1)
        length = struct.unpack("!I", self.receive(client, 4))[0]
        self.passwords.append(self.receive(client, length - 4).rstrip(b"\0").decode())
        fields = (b"SFATAL\0VFATAL\0C28P01\0"
                  b"Mpassword authentication failed for user \"reader\"\0\0")
        client.sendall(b"E" + struct.pack("!I", len(fields) + 4) + fields)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.listener.close()
