"""Outbound requests to user-supplied URLs (connection base URLs, token endpoints, tracking
servers) must not reach the service's own network: private, loopback, link-local, reserved
and multicast addresses are refused unless allowed by ``OUTBOUND_ALLOWED_HOSTS`` (host names
or IPs) or ``OUTBOUND_ALLOWED_NETWORKS`` (CIDRs)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeDestination(ValueError):
    """The URL (or host) points somewhere this server must not call. ``pointer``: the JSON
    pointer of the config member that named it, when a config was checked."""

    pointer = ""


def _allowed_networks() -> list:
    return [ipaddress.ip_network(n, strict=False) for n in settings.OUTBOUND_ALLOWED_NETWORKS]


def _is_allowed_host(host: str) -> bool:
    allowed = settings.OUTBOUND_ALLOWED_HOSTS
    return host in allowed or "*" in allowed


def _refuse_internal(host: str, addresses) -> None:
    allowed = _allowed_networks()
    for address in addresses:
        if any(address in network for network in allowed):
            continue
        if (address.is_private or address.is_loopback or address.is_link_local
                or address.is_reserved or address.is_multicast or address.is_unspecified):
            raise UnsafeDestination(
                f"{host} resolves to {address}, a private or internal address; outbound "
                "requests there are refused (OUTBOUND_ALLOWED_HOSTS / "
                "OUTBOUND_ALLOWED_NETWORKS allow exceptions).")


def lookup(host: str, port: int) -> list:
    """The addresses of ``host``, in the resolver's order (one lookup)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses a connection to ``host`` may use: resolved once here, every one of them
    checked, to be connected to as they are (``syncservice.outbound`` pins them), so the
    name cannot resolve elsewhere between the check and the connection (DNS rebinding).
    Raises ``UnsafeDestination`` (any internal address) or ``socket.gaierror``."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        addresses = lookup(host, port)
    if not _is_allowed_host(host):
        _refuse_internal(host, addresses)
    return [str(address) for address in addresses]


def check_url(url: str, *, resolve: bool = True) -> None:
    """Raise ``UnsafeDestination`` unless ``url`` is http(s) to a public address (or an
    allowed host). An early, friendly check (on save, when a source opens); what protects
    the connections themselves is ``checked_addresses`` at connect time."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeDestination(f"Only http and https URLs are allowed, not {parts.scheme!r}.")
    host = parts.hostname
    if not host:
        raise UnsafeDestination("The URL has no host.")
    check_host(host, parts.port or 443, resolve=resolve)


def check_host(host: str, port: int, *, resolve: bool = True) -> None:
    """``check_url`` for a bare host name or IP address (an SSH or database server's): raise
    ``UnsafeDestination`` if it is, or resolves to, an internal address (not allowed). An
    early check as well: connections are pinned by ``checked_addresses``."""
    if _is_allowed_host(host):
        return
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        if not resolve:
            return
        try:
            addresses = lookup(host, port)
        except (socket.gaierror, UnicodeError, ValueError):
            return  # unresolvable: the request fails on its own, nothing internal is reached
    _refuse_internal(host, addresses)


def check_config(config: dict) -> None:
    """Check every destination a connection config names: its URL-valued fields
    (``url_fields``) and its server ``host`` (SFTP, databases). Raises ``UnsafeDestination``
    with ``pointer`` set to the member."""
    destinations = [(pointer, url, check_url) for pointer, url in url_fields(config)]
    host = (config or {}).get("host")
    if isinstance(host, str) and host:
        port = (config or {}).get("port")
        destinations.append(("/host", host, lambda value: check_host(
            value, port if isinstance(port, int) and 0 < port < 65536 else 0)))
    for pointer, value, check in destinations:
        try:
            check(value)
        except UnsafeDestination as exc:
            exc.pointer = pointer
            raise


def url_fields(config: dict, prefix: str = "") -> list[tuple[str, str]]:
    """(pointer, url) of every URL-valued field of a connection config (keys ending in
    ``url`` or ``uri``), nested objects included."""
    found = []
    for key, value in (config or {}).items():
        pointer = f"{prefix}/{key}"
        if isinstance(value, dict):
            found += url_fields(value, pointer)
        elif isinstance(value, str) and key.lower().endswith(("url", "uri")):
            found.append((pointer, value))
    return found
