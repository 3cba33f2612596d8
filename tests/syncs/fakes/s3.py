"""S3 as moto's server on 127.0.0.1; with ``enforce_auth`` it checks request signatures and
IAM policies as S3 does (unknown keys and wrong secrets refused)."""

from __future__ import annotations

import json
import socket
import urllib.request


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_moto():
    """A moto server on a free local port: (server, its URL); ``server.stop()`` ends it."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def set_free_actions(url: str, count: float) -> None:
    """The next ``count`` requests skip authentication, every later one is checked (moto's
    ``reset-auth``; ``inf`` switches checks off, moto's default)."""
    request = urllib.request.Request(f"{url}/moto-api/reset-auth", data=str(count).encode(),
                                     method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local moto
        json.load(response)
