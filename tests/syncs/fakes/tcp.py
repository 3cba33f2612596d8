"""What the fakes speaking a database's wire protocol share: a TCP server on 127.0.0.1 that
accepts in a thread and serves each connection in a thread of its own (a connector may hold
two connections at once), and reading an exact number of bytes."""

from __future__ import annotations

import socket
import struct
import threading


def receive(client: socket.socket, size: int) -> bytes:
    """Exactly ``size`` bytes from ``client`` (OSError if it closes first)."""
    data = b""
    while len(data) < size:
        chunk = client.recv(size - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


class TcpFake:
    """Subclasses implement ``handle(client)``: one connection's whole exchange. A client
    that goes away or sends garbage ends its connection, never the server."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self.session, args=(client,), daemon=True).start()

    def session(self, client: socket.socket) -> None:
        with client:
            client.settimeout(10)
            try:
                self.handle(client)
            except (OSError, struct.error, UnicodeDecodeError):
                pass

    def handle(self, client: socket.socket) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.listener.close()
