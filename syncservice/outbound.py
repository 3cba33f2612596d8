"""Outbound connections to user-supplied hosts that go to the address that passed the SSRF
guard (``syncservice.netguard``): HTTP clients (httpx), sockets for clients that take a
connected one (paramiko's SSH), and a resolver for aiohttp (aiobotocore: S3 endpoints).

A check that resolves a name and a connection that resolves it again leave a window: a name
answering a public address to the check and ``127.0.0.1`` to the connection (DNS rebinding)
would reach the service's own network. Here each new connection resolves the name once,
checks every address (``netguard.checked_addresses``) and connects to a checked address as
is; TLS still verifies the certificate against, and sends SNI for, the URL's host name, and
the ``Host`` header stays the URL's (both come from the URL, not from the socket).

Environment proxies are ignored (``trust_env=False``): through a proxy the proxy would
resolve the name, out of the guard's reach.

aiohttp connects to IP literals without asking its resolver: those cannot be rebound, and
``netguard.check_url`` refuses internal ones before a source opens.
"""

from __future__ import annotations

import asyncio
import socket
import typing

import httpcore
import httpx
from httpcore._backends.sync import SyncBackend

from syncservice import netguard


class UnsafeConnection(httpcore.ConnectError):
    """The host resolves to an address outbound requests may not reach (httpx raises it as
    ``httpx.ConnectError``, so callers handle it as any unreachable host)."""


class PinnedBackend(SyncBackend):
    """httpcore's socket backend, connecting only to checked addresses."""

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: typing.Iterable | None = None) -> httpcore.NetworkStream:
        try:
            addresses = netguard.checked_addresses(host, port)
        except netguard.UnsafeDestination as exc:
            raise UnsafeConnection(str(exc)) from None
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"Cannot resolve {host}: {exc}") from None
        error: httpcore.ConnectError | None = None
        for address in addresses:  # in the resolver's order, as a plain connect would
            try:
                return super().connect_tcp(address, port, timeout, local_address,
                                           socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError(f"{host} has no address")


class PinnedTransport(httpx.HTTPTransport):
    def __init__(self, **kwargs: typing.Any) -> None:
        kwargs["trust_env"] = False
        kwargs.pop("proxy", None)
        super().__init__(**kwargs)
        pool = self._pool
        # httpx builds the pool; its network backend is the one thing replaced. Checked here
        # so that a change in httpx/httpcore fails loudly rather than connecting unpinned.
        if not isinstance(pool, httpcore.ConnectionPool) \
                or not isinstance(getattr(pool, "_network_backend", None), SyncBackend):
            raise RuntimeError("httpx's transport no longer has the expected connection pool")
        pool._network_backend = PinnedBackend()


def client(**kwargs: typing.Any) -> httpx.Client:
    """An ``httpx.Client`` (same arguments) whose every connection is pinned to checked
    addresses. ``verify``/``cert``/``http2``/``limits`` go to the transport."""
    transport_options = {name: kwargs.pop(name) for name in ("verify", "cert", "http2",
                                                             "limits", "retries")
                         if name in kwargs}
    kwargs.pop("trust_env", None)
    return httpx.Client(transport=PinnedTransport(**transport_options), trust_env=False,
                        **kwargs)


def connect_socket(host: str, port: int, timeout: float | None = None) -> socket.socket:
    """A TCP socket to ``host`` connected to an address that passed the guard, for clients
    that take a connected socket (paramiko's ``sock``; the client still names ``host`` for
    its own checks, e.g. host keys). Raises ``netguard.UnsafeDestination`` (an internal
    address) or ``OSError`` (unresolvable or unreachable)."""
    try:
        addresses = netguard.checked_addresses(host, port)
    except UnicodeError as exc:
        raise socket.gaierror(f"Cannot resolve {host}: {exc}") from None
    error: OSError | None = None
    for address in addresses:  # in the resolver's order, as socket.create_connection would
        try:
            return socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            error = exc
    raise error or OSError(f"{host} has no address")


def aiohttp_resolver():
    """An ``aiohttp`` resolver answering only checked addresses (aiohttp then connects to
    them, while TLS and the ``Host`` header keep the name): for aiobotocore's
    ``connector_args={"resolver": ...}``. A refused name fails the connection; clients that
    report it as any unreachable host (botocore) find the guard's message in ``refused``."""
    from aiohttp.abc import AbstractResolver

    class PinnedResolver(AbstractResolver):
        def __init__(self) -> None:
            self.refused: list[str] = []

        async def resolve(self, host: str, port: int = 0,
                          family: int = socket.AF_INET) -> list:
            try:
                addresses = await asyncio.get_running_loop().run_in_executor(
                    None, netguard.checked_addresses, host, port)
            except netguard.UnsafeDestination as exc:
                self.refused.append(str(exc))
                raise OSError(str(exc)) from None
            except UnicodeError as exc:
                raise socket.gaierror(f"Cannot resolve {host}: {exc}") from None
            return [{"hostname": host, "host": address, "port": port,
                     "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                     "proto": 0, "flags": socket.AI_NUMERICHOST} for address in addresses]

        async def close(self) -> None:
            pass

    return PinnedResolver()
